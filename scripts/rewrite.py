from skyt1.runner import optional_input, run_stage
from skyt1.settings import target_args
from skyt1.stages import rewrite
from skyt1.stages.common import JobEngine


def main(sm):
    """Every source, on the one engine this job owns (none on an external endpoint)."""
    model = optional_input(sm, "model")
    sources = list(sm.params.spec)
    first = target_args("rewrite", sm, "source", sources[0])
    with JobEngine(first["cfg"]["backend"], model, first["model_spec"], first["model_name"], threads=sm.threads,
                   gpus=sm.resources.get("gpu", 0), log_path=sm.log[0], stage="rewrite") as engine:
        for i, source in enumerate(sources):
            a = target_args("rewrite", sm, "source", source)
            rewrite.run(sm.input.traces[i], model, sm.output.rewritten[i], sm.output.stats[i], a["cfg"], a["prompt"],
                        a["model_spec"], threads=sm.threads, gpus=sm.resources.get("gpu", 0),
                        cache_cfg=a["cache"], model_name=a["model_name"], log_path=sm.log[0],
                        artifacts=a["artifacts"], engine=engine.owned)
    engine.write(sm.output.engine, sm.output.rewritten)


run_stage(snakemake, main)  # noqa: F821 (injected by snakemake)
