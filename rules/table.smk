rule table_main:
    """Benchmarks as rows; this run's models with 95% intervals, verdicts and no-answer / truncation shares,
    each student's paired gain over its base, then the paper's reported numbers."""
    input:
        summaries=expand("results/eval/{label}/{bench}.summary.json", label=EVAL_MODELS, bench=BENCHMARKS),
        samples=expand("results/eval/{label}/{bench}.jsonl", label=EVAL_MODELS, bench=BENCHMARKS),
    output:
        csv=report("results/table_main.csv", caption="../report/table_main.rst", category="Results"),
        md=report("results/table_main.md", caption="../report/table_main_md.rst", category="Results"),
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


rule plot_benchmark:
    """One chart per benchmark: this run's models with 95% interval whiskers beside the paper's numbers, and
    each student's gain over its base (paired interval) beside the paper's gain."""
    input:
        summaries=expand("results/eval/{label}/{{bench}}.summary.json", label=EVAL_MODELS),
        samples=expand("results/eval/{label}/{{bench}}.jsonl", label=EVAL_MODELS),
    output:
        report("results/plots/{bench}.png", caption="../report/plot_benchmark.rst", category="Results",
               subcategory="Per benchmark"),
    log:
        "logs/table/plot_{bench}.log",
    benchmark:
        "benchmarks/table/plot_{bench}.tsv"
    params:
        spec=spec("plot_benchmark"),
        code=code("plot_benchmark"),
    conda:
        ENV_PIPELINE
    threads: res("table", "threads")
    resources:
        mem_mb=res("table", "mem_mb"),
        runtime=res("table", "runtime"),
        gpu=res("table", "gpu"),
    script:
        "../scripts/plot_benchmark.py"
