rule train:
    """Full SFT of the student with LLaMA-Factory; the finished model lands here only on success."""
    input:
        student=f"results/models/{config['train']['student']}",
        data=f"results/sft/{SFT_NAME}.json",
        info="results/sft/dataset_info.json",
    output:
        directory("results/checkpoints/{run}"),
    log:
        "logs/train/{run}.log",
    benchmark:
        "benchmarks/train/{run}.tsv"
    params:
        spec=spec("train"),
        code=code("train"),
    conda:
        ENV_TRAIN
    threads: res("train", "threads")
    resources:
        mem_mb=res("train", "mem_mb"),
        runtime=res("train", "runtime"),
        gpu=res("train", "gpu"),
    script:
        "../scripts/train.py"
