rule table_main:
    """Benchmarks as rows; this run's models, then the paper's reported numbers (labelled as such)."""
    input:
        expand("results/eval/{label}/{bench}.summary.json", label=EVAL_MODELS, bench=BENCHMARKS),
    output:
        csv=report("results/table_main.csv", caption="../report/table_main.rst", category="Results"),
        md="results/table_main.md",
    log:
        "logs/table/table_main.log",
    benchmark:
        "benchmarks/table/table_main.tsv"
    params:
        spec=spec("table_main"),
        code=code("table_main"),
    conda:
        ENV_PIPELINE
    threads: res("table", "threads")
    resources:
        mem_mb=res("table", "mem_mb"),
        runtime=res("table", "runtime"),
        gpu=res("table", "gpu"),
    script:
        "../scripts/table.py"
