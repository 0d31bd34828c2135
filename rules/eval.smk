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
        eval_cfg={k: v for k, v in config["eval"].items() if k != "benchmarks"},
        bench_spec=lambda wildcards: config["benchmarks"][wildcards.bench],
        model=lambda wildcards: config["eval"]["models"][wildcards.label],
        prompt=lambda wildcards: config["prompts"][eval_prompt(wildcards.label, wildcards.bench)],
        family=lambda wildcards: config["eval"]["models"][wildcards.label].get("family"),
        paper_model=lambda wildcards: config["eval"]["models"][wildcards.label].get("paper_model"),
        model_spec=lambda wildcards: eval_model_spec(wildcards.label),
        cache=config["cache"],
        sandbox=config.get("sandbox", {}),
    conda:
        gen_env("eval")
    threads: res("evaluate", "threads")
    resources:
        mem_mb=res("evaluate", "mem_mb"),
        runtime=res("evaluate", "runtime"),
        gpu=res("evaluate", "gpu"),
    script:
        "../scripts/evaluate.py"
