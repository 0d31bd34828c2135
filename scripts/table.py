from skyt1.runner import run_stage
from skyt1.settings import stage_args
from skyt1.stages import table


def main(sm):
    a = stage_args("table_main", sm)
    table.run(list(sm.input.summaries), list(sm.input.samples), sm.output.csv, sm.output.md, a["models"],
              a["paper_columns"], a["preset"], roles=a["roles"], pairs=a["gains"], bootstrap=a["bootstrap"])


run_stage(snakemake, main)  # noqa: F821 (injected by snakemake)
