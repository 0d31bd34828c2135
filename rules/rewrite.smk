rule rewrite:
    """The rewriter turns each trace into the thought/solution format."""
    input:
        traces="results/sample/{source}.jsonl",
        model=model_dir(config["rewrite"]["model"]),
    output:
        rewritten="results/rewrite/{source}.jsonl",
        stats="results/rewrite/{source}.stats.json",
    log:
        "logs/rewrite/{source}.log",
    benchmark:
        "benchmarks/rewrite/{source}.tsv"
    params:
        cfg=config["rewrite"],
        prompt=lambda wildcards: source_prompt("rewrite", wildcards.source),
        model_spec=MODELS[config["rewrite"]["model"]],
        model_name=config["rewrite"]["model"],
        cache=config["cache"],
    conda:
        gen_env("rewrite")
    threads: res("rewrite", "threads")
    resources:
        mem_mb=res("rewrite", "mem_mb"),
        runtime=res("rewrite", "runtime"),
        gpu=res("rewrite", "gpu"),
    script:
        "../scripts/rewrite.py"
