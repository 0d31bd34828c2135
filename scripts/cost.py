from skyt1.workflow import cost
from skyt1.workflow.runner import run_stage
from skyt1.settings import stage_args


def main(sm):
    cost.run(cost.Spec(**stage_args("cost", sm)), cost.Paths(sm.output[0], workdir="."))


run_stage(snakemake, main)  # noqa: F821 (injected by snakemake)
