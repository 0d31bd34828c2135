rule mix:
    """The SFT set in LLaMA-Factory's sharegpt format, with its dataset_info.json."""
    input:
        accepted=[mix_input(s) for s in SOURCES],
        reject_stats=[f"results/reject/{s}.stats.json" for s in SOURCES if not config["train_sources"][s].get("passthrough")],
        tokenizer=f"results/models/{config['train']['student']}",
    output:
        data=f"results/sft/{SFT_NAME}.json",
        info="results/sft/dataset_info.json",
        report="results/sft/mix_report.json",
        rows=f"results/sft/{SFT_NAME}.rows.jsonl",
        histogram=report("results/sft/mix_token_lengths.png", caption="../report/mix_token_lengths.rst", category="Data"),
    log:
        "logs/mix/mix.log",
    benchmark:
        "benchmarks/mix/mix.tsv"
    params:
        spec=spec("mix"),
        code=code("mix"),
    conda:
        ENV_PIPELINE
    threads: res("mix", "threads")
    resources:
        mem_mb=res("mix", "mem_mb"),
        runtime=res("mix", "runtime"),
        gpu=res("mix", "gpu"),
    script:
        "../scripts/mix.py"
