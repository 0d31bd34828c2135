rule rewrite:
    """The rewriter turns each trace into the thought/solution format."""
    input:
        traces="results/sample/{source}.jsonl",
        model=model_dir(config["rewrite"]["model"]),
        engine=engine_input("rewrite", lambda w: config["rewrite"]["model"]),
    output:
        rewritten="results/rewrite/{source}.jsonl",
        stats="results/rewrite/{source}.stats.json",
    log:
        "logs/rewrite/{source}.log",
    benchmark:
        "benchmarks/rewrite/{source}.tsv"
    params:
        spec=spec("rewrite"),
        code=code("rewrite"),
    conda:
        ENV_PIPELINE
    group:
        stage_group("rewrite", lambda w: config["rewrite"]["model"])
    threads: stage_res("rewrite", "threads")
    resources:
        mem_mb=stage_res("rewrite", "mem_mb"),
        runtime=stage_res("rewrite", "runtime"),
        gpu=stage_res("rewrite", "gpu"),
    script:
        "../scripts/rewrite.py"
