from skyt1.workflow.runner import run_stage
from skyt1.settings import stage_args
from skyt1.stages import data


def main(sm):
    name = getattr(sm.wildcards, "source", None) or sm.wildcards.bench
    data.run(data.Spec(**stage_args(sm.rule, sm)), data.Paths(name, sm.output.records, sm.output.meta))


run_stage(snakemake, main)  # noqa: F821 (injected by snakemake)
