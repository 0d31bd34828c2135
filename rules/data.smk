rule data_train:
    """A training source in the one record schema."""
    output:
        records="results/data/train/{source}.jsonl",
        meta="results/data/train/{source}.meta.json",
    log:
        "logs/data/train/{source}.log",
    benchmark:
        "benchmarks/data/train/{source}.tsv"
    params:
        spec=spec("data_train"),
        code=code("data_train"),
    conda:
        ENV_PIPELINE
    threads: res("data", "threads")
    resources:
        mem_mb=res("data", "mem_mb"),
        runtime=res("data", "runtime"),
        gpu=res("data", "gpu"),
    script:
        "../scripts/data.py"


rule data_bench:
    """A benchmark in the one record schema."""
    output:
        records="results/data/bench/{bench}.jsonl",
        meta="results/data/bench/{bench}.meta.json",
    log:
        "logs/data/bench/{bench}.log",
    benchmark:
        "benchmarks/data/bench/{bench}.tsv"
    params:
        spec=spec("data_bench"),
        code=code("data_bench"),
    conda:
        ENV_PIPELINE
    threads: res("data", "threads")
    resources:
        mem_mb=res("data", "mem_mb"),
        runtime=res("data", "runtime"),
        gpu=res("data", "gpu"),
    script:
        "../scripts/data.py"
