from skyt1.workflow.runner import run_stage
from skyt1.settings import stage_args
from skyt1.stages import reject


def main(sm):
    paths = reject.Paths(sm.input[0], sm.output.accepted, sm.output.rejected, sm.output.stats)
    reject.run(reject.Spec(**stage_args("reject", sm)), paths, threads=sm.threads)


run_stage(snakemake, main)  # noqa: F821 (injected by snakemake)
