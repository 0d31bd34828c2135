from skyt1.runner import each_target_on_its_engine, optional_input, run_stage
from skyt1.stages import sample


def main(sm):
    """Shard {shard} of every source, on the one engine this job owns."""
    model = optional_input(sm, "model")
    shard = (int(sm.wildcards.shard), int(sm.params.shards))

    def one(i, source, a, engine):
        sample.run(sm.input.records[i], model, sm.output.traces[i], sm.output.stats[i], a["cfg"], a["prompt"],
                   a["model_spec"], threads=sm.threads, gpus=sm.resources.get("gpu", 0),
                   cache_cfg=a["cache"], model_name=a["model_name"], log_path=sm.log[0],
                   source_spec=a["source_spec"], artifacts=a["artifacts"], engine=engine, shard=shard)
        return sm.output.traces[i]

    each_target_on_its_engine(sm, "sample", "source", "sample", one)


run_stage(snakemake, main)  # noqa: F821 (injected by snakemake)
