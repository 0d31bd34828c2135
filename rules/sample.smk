rule sample:
    """The teacher answers the training questions of every source: shard {shard} of sample.shards (every
    shards-th record of each source). The job starts the teacher's engine on its first cache miss, runs
    every source through it and stops it (skyt1.engine.owned.OwnedEngine): one load per shard."""
    input:
        records=expand("results/data/clean/{source}.jsonl", source=GENERATED),
        model=model_dir(config["sample"]["model"]),
    output:
        traces=expand("results/sample/shards/{{shard}}/{source}.jsonl", source=GENERATED),
        stats=expand("results/sample/shards/{{shard}}/{source}.stats.json", source=GENERATED),
        engine=f"results/engines/sample/{config['sample']['model']}.shard-{{shard}}.json",
    log:
        "logs/sample/shard-{shard}.log",
    benchmark:
        "benchmarks/sample/shard-{shard}.tsv"
    params:
        spec=target_specs("sample", "source", GENERATED),
        code=code("sample"),
    conda:
        gen_env("sample")
    threads: gen_res("sample", "threads", 1)
    resources:
        mem_mb=gen_res("sample", "mem_mb", 1),
        runtime=gen_res("sample", "runtime", -(-len(GENERATED) // SHARDS)),
        gpu=gen_res("sample", "gpu", 1),
    script:
        "../scripts/sample.py"


rule sample_merge:
    """One source's traces from every shard, in the records' order; fails if a record is missing (and did
    not fail for good in its shard) or appears in two shards."""
    input:
        records="results/data/clean/{source}.jsonl",
        traces=expand("results/sample/shards/{shard}/{{source}}.jsonl", shard=range(SHARDS)),
        stats=expand("results/sample/shards/{shard}/{{source}}.stats.json", shard=range(SHARDS)),
    output:
        traces="results/sample/{source}.jsonl",
        stats="results/sample/{source}.stats.json",
    log:
        "logs/sample/merge/{source}.log",
    benchmark:
        "benchmarks/sample_merge/{source}.tsv"
    params:
        code=code("sample_merge"),
    conda:
        ENV_PIPELINE
    threads: res("reject", "threads")
    resources:
        mem_mb=res("reject", "mem_mb"),
        runtime=res("reject", "runtime"),
        gpu=0,
    script:
        "../scripts/sample_merge.py"
