from skyt1.runner import run_stage
from skyt1.settings import stage_args
from skyt1.stages import table


def main(sm):
    a = stage_args("plot_benchmark", sm)
    table.run_plot(list(sm.input.summaries), list(sm.input.samples), sm.output[0], a["models"], sm.wildcards.bench,
                   roles=a["roles"], pairs=a["gains"], bootstrap=a["bootstrap"])


run_stage(snakemake, main)  # noqa: F821 (injected by snakemake)
