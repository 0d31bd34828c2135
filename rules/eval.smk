rule evaluate:
    """One model on one benchmark: per-sample JSONL and a summary."""
    input:
        bench="results/data/bench/{bench}.jsonl",
        model=eval_model_input,
    output:
        samples="results/eval/{label}/{bench}.jsonl",
        summary="results/eval/{label}/{bench}.summary.json",
    log:
        "logs/eval/{label}/{bench}.log",
    benchmark:
        "benchmarks/eval/{label}/{bench}.tsv"
    params:
        spec=spec("evaluate"),
        code=code("evaluate"),
    conda:
        gen_env("eval")
    threads: res("evaluate", "threads")
    resources:
        mem_mb=res("evaluate", "mem_mb"),
        runtime=res("evaluate", "runtime"),
        gpu=gpus("eval", "evaluate"),
    script:
        "../scripts/evaluate.py"
