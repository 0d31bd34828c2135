from skyt1.weights import prepare as models
from skyt1.workflow.runner import run_stage
from skyt1.settings import stage_args


def main(sm):
    models.run(models.Spec(**stage_args("prepare_model", sm)), models.Paths(sm.wildcards.model, sm.output[0]))


run_stage(snakemake, main)  # noqa: F821 (injected by snakemake)
