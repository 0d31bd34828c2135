rule cost:
    """The cost ledger: per stage wall, CPU and GPU hours, tokens and API dollars; the training estimate."""
    input:
        "results/table_main.csv",
    output:
        report("results/cost.csv", caption="../report/cost.rst", category="Cost"),
    log:
        "logs/cost/cost.log",
    benchmark:
        "benchmarks/cost/cost.tsv"
    params:
        spec=spec("cost"),
        code=code("cost"),
    conda:
        ENV_PIPELINE
    threads: res("cost", "threads")
    resources:
        mem_mb=res("cost", "mem_mb"),
        runtime=res("cost", "runtime"),
        gpu=res("cost", "gpu"),
    script:
        "../scripts/cost.py"
