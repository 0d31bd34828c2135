rule decontaminate:
    """Drop training questions that overlap any benchmark question (n-gram + fuzzy); report each one."""
    input:
        train=expand("results/data/train/{source}.jsonl", source=SOURCES),
        bench=expand("results/data/bench/{bench}.jsonl", bench=list(config["benchmarks"])),
    output:
        train=expand("results/data/clean/{source}.jsonl", source=SOURCES),
        report="results/data/decontam_report.json",
    log:
        "logs/decontaminate/decontaminate.log",
    benchmark:
        "benchmarks/decontaminate/decontaminate.tsv"
    params:
        spec=spec("decontaminate"),
        code=code("decontaminate"),
    conda:
        ENV_PIPELINE
    threads: res("decontaminate", "threads")
    resources:
        mem_mb=res("decontaminate", "mem_mb"),
        runtime=res("decontaminate", "runtime"),
        gpu=res("decontaminate", "gpu"),
    script:
        "../scripts/decontaminate.py"
