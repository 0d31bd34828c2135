rule sample:
    """The teacher answers every training question of one source."""
    input:
        records="results/data/clean/{source}.jsonl",
        model=model_dir(config["sample"]["model"]),
    output:
        traces="results/sample/{source}.jsonl",
        stats="results/sample/{source}.stats.json",
    log:
        "logs/sample/{source}.log",
    benchmark:
        "benchmarks/sample/{source}.tsv"
    params:
        cfg=config["sample"],
        prompt=lambda wildcards: source_prompt("sample", wildcards.source),
        model_spec=MODELS[config["sample"]["model"]],
        model_name=config["sample"]["model"],
        cache=config["cache"],
    conda:
        gen_env("sample")
    threads: res("sample", "threads")
    resources:
        mem_mb=res("sample", "mem_mb"),
        runtime=res("sample", "runtime"),
        gpu=res("sample", "gpu"),
    script:
        "../scripts/sample.py"
