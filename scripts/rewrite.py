from skyt1.runner import each_target_on_its_engine, optional_input, run_stage
from skyt1.stages import rewrite


def main(sm):
    """Every source, on the one engine this job owns (none on an external endpoint)."""
    model = optional_input(sm, "model")

    def one(i, source, a, engine):
        rewrite.run(sm.input.traces[i], model, sm.output.rewritten[i], sm.output.stats[i], a["cfg"], a["prompt"],
                    a["model_spec"], threads=sm.threads, gpus=sm.resources.get("gpu", 0),
                    cache_cfg=a["cache"], model_name=a["model_name"], log_path=sm.log[0],
                    artifacts=a["artifacts"], engine=engine)
        return sm.output.rewritten[i]

    each_target_on_its_engine(sm, "rewrite", "source", "rewrite", one)


run_stage(snakemake, main)  # noqa: F821 (injected by snakemake)
