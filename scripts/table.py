from skyt1.workflow.runner import run_stage
from skyt1.settings import stage_args
from skyt1.stages import table


def main(sm):
    paths = table.Paths(tuple(sm.input.summaries), tuple(sm.input.samples), csv=sm.output.csv, md=sm.output.md)
    table.run(table.Spec(**stage_args("table_main", sm)), paths)


run_stage(snakemake, main)  # noqa: F821 (injected by snakemake)
