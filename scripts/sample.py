from skyt1.runner import optional_input, run_stage
from skyt1.settings import target_args
from skyt1.stages import sample
from skyt1.stages.common import JobEngine


def main(sm):
    """Shard {shard} of every source, on the one engine this job owns."""
    model = optional_input(sm, "model")
    sources = list(sm.params.spec)
    first = target_args("sample", sm, "source", sources[0])
    shard = (int(sm.wildcards.shard), int(sm.params.shards))
    with JobEngine(first["cfg"]["backend"], model, first["model_spec"], first["model_name"], threads=sm.threads,
                   gpus=sm.resources.get("gpu", 0), log_path=sm.log[0], stage="sample") as engine:
        for i, source in enumerate(sources):
            a = target_args("sample", sm, "source", source)
            sample.run(sm.input.records[i], model, sm.output.traces[i], sm.output.stats[i], a["cfg"], a["prompt"],
                       a["model_spec"], threads=sm.threads, gpus=sm.resources.get("gpu", 0),
                       cache_cfg=a["cache"], model_name=a["model_name"], log_path=sm.log[0],
                       source_spec=a["source_spec"], artifacts=a["artifacts"], engine=engine.owned, shard=shard)
    engine.write(sm.output.engine, sm.output.traces)


run_stage(snakemake, main)  # noqa: F821 (injected by snakemake)
