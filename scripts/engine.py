from skyt1.runner import run_stage
from skyt1.settings import stage_args
from skyt1.stages import engine


def main(sm):
    a = stage_args("engine", sm)
    engine.run(sm.input.model, sm.output.manifest, stage=sm.wildcards.stage, cfg=a["cfg"], model_name=a["model_name"],
               threads=sm.threads, gpus=sm.resources.get("gpu", 0), cache_cfg=a["cache"], log_path=sm.log[0])


run_stage(snakemake, main)  # noqa: F821 (injected by snakemake)
