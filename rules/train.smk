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
        # all ranks on one node: the Slurm plugin sends `gpu` as --gpus (a job total that Slurm may spread
        # over nodes) and `nodes` as --nodes (docs/cluster-32b.md); torchrun here is single-node
        nodes=1,
    script:
        "../scripts/train.py"
