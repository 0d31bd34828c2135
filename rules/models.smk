rule prepare_model:
    """Weights as a pipeline output: the tiny GGUF dequantized once to dense safetensors, or a hub snapshot."""
    output:
        directory("results/models/{model}"),
    log:
        "logs/prepare_model/{model}.log",
    benchmark:
        "benchmarks/prepare_model/{model}.tsv"
    params:
        spec=spec("prepare_model"),
        code=code("prepare_model"),
    conda:
        ENV_PIPELINE
    threads: res("prepare_model", "threads")
    resources:
        mem_mb=res("prepare_model", "mem_mb"),
        runtime=res("prepare_model", "runtime"),
        gpu=res("prepare_model", "gpu"),
    script:
        "../scripts/prepare_model.py"
