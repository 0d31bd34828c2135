rule sample:
    """The teacher answers every training question of one source."""
    input:
        records="results/data/clean/{source}.jsonl",
        model=model_dir(config["sample"]["model"]),
        engine=engine_input("sample", lambda w: config["sample"]["model"]),
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
        ENV_PIPELINE
    group:
        stage_group("sample", lambda w: config["sample"]["model"])
    threads: stage_res("sample", "threads")
    resources:
        mem_mb=stage_res("sample", "mem_mb"),
        runtime=stage_res("sample", "runtime"),
        gpu=stage_res("sample", "gpu"),
    script:
        "../scripts/sample.py"
