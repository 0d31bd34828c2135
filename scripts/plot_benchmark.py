from skyt1.runner import run_stage
from skyt1.stages import table


def main(sm):
    table.run_plot(list(sm.input), sm.output[0], sm.params.models, sm.wildcards.bench)


run_stage(snakemake, main)  # noqa: F821 (injected by snakemake)
