from skyt1.runner import optional_input, run_stage
from skyt1.settings import stage_args
from skyt1.stages import rewrite


def main(sm):
    model = optional_input(sm, "model")
    a = stage_args("rewrite", sm)
    rewrite.run(sm.input.traces, model, sm.output.rewritten, sm.output.stats, a["cfg"], a["prompt"],
                a["model_spec"], threads=sm.threads, gpus=sm.resources.get("gpu", 0),
                cache_cfg=a["cache"], model_name=a["model_name"], log_path=sm.log[0],
                artifacts=a["artifacts"], engine=optional_input(sm, "engine"))


run_stage(snakemake, main)  # noqa: F821 (injected by snakemake)
