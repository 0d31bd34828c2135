rule engine:
    """A generation stage's local engine (vLLM's server or the project's CPU engine server), started once
    for all the jobs of one model; its manifest says what was loaded, how and in how long."""
    input:
        model=engine_model_input,
    output:
        # temporary: it lives while the stage's jobs run, so any of them that must run brings this job
        # along (on Slurm into the same group job, on the engine's GPUs)
        manifest=temp("results/engines/{stage}/{name}.json"),
    log:
        "logs/engines/{stage}/{name}.log",
    benchmark:
        "benchmarks/engines/{stage}/{name}.tsv"
    params:
        spec=spec("engine"),
        code=code("engine"),
    conda:
        engine_env
    group:
        engine_group
    threads: lambda wildcards: res(ENGINE_RESOURCES[wildcards.stage], "threads")
    resources:
        mem_mb=lambda wildcards: res(ENGINE_RESOURCES[wildcards.stage], "mem_mb"),
        runtime=res("engine", "runtime"),
        gpu=lambda wildcards: engine_gpus(wildcards.stage),
        # vLLM's tensor-parallel GPUs on one node (--gpus alone may be spread; docs/cluster-32b.md). In a
        # group job Snakemake sums it over members running side by side: only the engine declares it.
        nodes=1,
    script:
        "../scripts/engine.py"
