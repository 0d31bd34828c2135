rule evaluate:
    """One model on one benchmark: per-sample JSONL and a summary."""
    input:
        bench="results/data/bench/{bench}.jsonl",
        model=eval_model_input,
        engine=engine_input("eval", lambda w: w.label),
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
        ENV_PIPELINE
    group:
        stage_group("eval", lambda w: w.label)
    threads: stage_res("eval", "threads")
    resources:
        mem_mb=stage_res("eval", "mem_mb"),
        runtime=stage_res("eval", "runtime"),
        gpu=stage_res("eval", "gpu"),
    script:
        "../scripts/evaluate.py"
