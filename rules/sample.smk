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
        spec=spec("sample"),
        code=code("sample"),
    conda:
        gen_env("sample")
    threads: res("sample", "threads")
    resources:
        mem_mb=res("sample", "mem_mb"),
        runtime=res("sample", "runtime"),
        gpu=gpus("sample"),
    script:
        "../scripts/sample.py"
