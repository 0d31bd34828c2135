# skyt1: rebuild Sky-T1-32B-Preview from raw public data to the result table.
#   snakemake results/table_main.csv --profile profiles/local                   (tiny preset, CPU)
#   snakemake results/table_main.csv --configfile config/sky-t1-32b.yaml --profile profiles/slurm
from snakemake.utils import min_version

min_version("9.0")


# The HTML report (`snakemake --report results/report.html`, or `make report`): the top-level text is
# report/workflow.rst; every report() output carries its caption from report/*.rst.
report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/models.smk"
include: "rules/data.smk"
include: "rules/decontaminate.smk"
include: "rules/sample.smk"
include: "rules/rewrite.smk"
include: "rules/reject.smk"
include: "rules/mix.smk"
include: "rules/train.smk"
include: "rules/eval.smk"
include: "rules/table.smk"
include: "rules/cost.smk"
include: "rules/lineage.smk"


rule all:
    input:
        "results/table_main.csv",
        "results/table_main.md",
        "results/cost.csv",
        "results/report/table_main.lineage.svg",
        expand("results/plots/{bench}.png", bench=BENCHMARKS),
    default_target: True
