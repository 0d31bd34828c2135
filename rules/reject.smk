rule reject:
    """Reject sampling: keep a rewritten trace only if its final answer is right."""
    input:
        "results/rewrite/{source}.jsonl",
    output:
        accepted="results/reject/{source}.accepted.jsonl",
        rejected="results/reject/{source}.rejected.jsonl",
        stats="results/reject/{source}.stats.json",
    log:
        "logs/reject/{source}.log",
    benchmark:
        "benchmarks/reject/{source}.tsv"
    params:
        cfg=config["reject"],
        sandbox=config.get("sandbox", {}),
        scorer=lambda wildcards: source_scorer(wildcards.source),
        domain=lambda wildcards: config["train_sources"][wildcards.source].get("domain", "math"),
    conda:
        ENV_PIPELINE
    threads: res("reject", "threads")
    resources:
        mem_mb=res("reject", "mem_mb"),
        runtime=res("reject", "runtime"),
        gpu=res("reject", "gpu"),
    script:
        "../scripts/reject.py"
