rule mix:
    """The SFT set in LLaMA-Factory's sharegpt format, with its dataset_info.json."""
    input:
        accepted=expand("results/reject/{source}.accepted.jsonl", source=SOURCES),
        reject_stats=expand("results/reject/{source}.stats.json", source=SOURCES),
        tokenizer=f"results/models/{config['train']['student']}",
    output:
        data=f"results/sft/{SFT_NAME}.json",
        info="results/sft/dataset_info.json",
        report="results/sft/mix_report.json",
        histogram=report("results/sft/mix_token_lengths.png", caption="../report/mix_token_lengths.rst", category="Data"),
    log:
        "logs/mix/mix.log",
    benchmark:
        "benchmarks/mix/mix.tsv"
    params:
        cfg=config["mix"],
        seed=config["seed"],
        cutoff_len=config["train"]["args"].get("cutoff_len"),
    conda:
        ENV_PIPELINE
    threads: res("mix", "threads")
    resources:
        mem_mb=res("mix", "mem_mb"),
        runtime=res("mix", "runtime"),
        gpu=res("mix", "gpu"),
    script:
        "../scripts/mix.py"
