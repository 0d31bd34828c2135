from skyt1.models import materialize
from skyt1.runner import run_stage
from skyt1.settings import stage_args


def main(sm):
    materialize(sm.wildcards.model, stage_args("prepare_model", sm)["model_spec"], sm.output[0])


run_stage(snakemake, main)  # noqa: F821 (injected by snakemake)
