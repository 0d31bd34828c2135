rule evaluate:
    """One model on every benchmark: per-sample JSONL and a summary for each, each its own file target.
    The job starts the model's engine on its first cache miss and stops it when done: one load per model
    (regenerating one number reruns this job; the other benchmarks' requests hit the request cache)."""
    input:
        bench=expand("results/data/bench/{bench}.jsonl", bench=BENCHMARKS),
        model=eval_model_input,
    output:
        samples=expand("results/eval/{{label}}/{bench}.jsonl", bench=BENCHMARKS),
        summaries=expand("results/eval/{{label}}/{bench}.summary.json", bench=BENCHMARKS),
        engine="results/engines/eval/{label}.json",
    log:
        "logs/eval/{label}.log",
    benchmark:
        "benchmarks/eval/{label}.tsv"
    params:
        spec=target_specs("evaluate", "bench", BENCHMARKS),
        code=code("evaluate"),
    conda:
        gen_env("eval")
    threads: gen_res("eval", "threads", 1)
    resources:
        mem_mb=gen_res("eval", "mem_mb", 1),
        runtime=gen_res("eval", "runtime", len(BENCHMARKS)),
        gpu=gen_res("eval", "gpu", 1),
    script:
        "../scripts/evaluate.py"
