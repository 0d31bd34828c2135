from skyt1.runner import run_stage
from skyt1.settings import stage_args
from skyt1.stages import decontaminate


def main(sm):
    decontaminate.run(list(sm.input.train), list(sm.input.bench), list(sm.output.train), sm.output.report,
                      stage_args("decontaminate", sm)["cfg"])


run_stage(snakemake, main)  # noqa: F821 (injected by snakemake)
