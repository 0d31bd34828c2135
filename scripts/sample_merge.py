from skyt1.workflow.runner import run_stage
from skyt1.stages import sample


def main(sm):
    sample.merge(sm.input.records, list(sm.input.traces), list(sm.input.stats), sm.output.traces, sm.output.stats)


run_stage(snakemake, main)  # noqa: F821 (injected by snakemake)
