rule rewrite:
    """The rewriter turns each trace of every source into the thought/solution format: one job, which owns
    the rewriter's engine if it runs on one (one load for the stage)."""
    input:
        traces=expand("results/sample/{source}.jsonl", source=GENERATED),
        model=model_dir(config["rewrite"]["model"]),
    output:
        rewritten=expand("results/rewrite/{source}.jsonl", source=GENERATED),
        stats=expand("results/rewrite/{source}.stats.json", source=GENERATED),
        engine=f"results/engines/rewrite/{config['rewrite']['model']}.json",
    log:
        f"logs/rewrite/{config['rewrite']['model']}.log",
    benchmark:
        f"benchmarks/rewrite/{config['rewrite']['model']}.tsv"
    params:
        spec=target_specs("rewrite", "source", GENERATED),
        code=code("rewrite"),
    conda:
        gen_env("rewrite")
    threads: gen_res("rewrite", "threads", 1)
    resources:
        mem_mb=gen_res("rewrite", "mem_mb", 1),
        runtime=gen_res("rewrite", "runtime", len(GENERATED)),
        gpu=gen_res("rewrite", "gpu", 1),
    script:
        "../scripts/rewrite.py"
