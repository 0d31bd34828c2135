from skyt1.workflow.runner import run_stage
from skyt1.settings import stage_args
from skyt1.stages import decontaminate


def main(sm):
    paths = decontaminate.Paths(tuple(sm.input.train), tuple(sm.input.bench), tuple(sm.output.train), sm.output.report)
    decontaminate.run(decontaminate.Spec(**stage_args("decontaminate", sm)), paths)


run_stage(snakemake, main)  # noqa: F821 (injected by snakemake)
