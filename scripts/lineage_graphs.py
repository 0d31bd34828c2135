from skyt1.runner import run_stage
from skyt1.stages import lineage_graphs


def main(sm):
    lineage_graphs.run(sm.input.table, sm.output.rulegraph, sm.output.lineage, sm.config)


run_stage(snakemake, main)  # noqa: F821 (injected by snakemake)
