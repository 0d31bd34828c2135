from skyt1.workflow.runner import run_stage
from skyt1.settings import stage_args
from skyt1.stages import table


def main(sm):
    paths = table.Paths(tuple(sm.input.summaries), tuple(sm.input.samples), png=sm.output[0])
    table.run_plot(table.Spec(**stage_args("plot_benchmark", sm)), paths, sm.wildcards.bench)


run_stage(snakemake, main)  # noqa: F821 (injected by snakemake)
