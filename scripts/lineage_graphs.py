from skyt1.workflow.runner import run_stage
from skyt1.stages import lineage_graphs


def main(sm):
    paths = lineage_graphs.Paths(sm.input.table, sm.output.rulegraph, sm.output.lineage)
    lineage_graphs.run(lineage_graphs.spec(sm.config), paths)


run_stage(snakemake, main)  # noqa: F821 (injected by snakemake)
