from skyt1.runner import run_stage
from skyt1.stages import evaluate


def main(sm):
    evaluate.run(sm.input.bench, sm.input.model, sm.output.samples, sm.output.summary,
                 benchmark=sm.wildcards.bench, bench_spec=sm.params.bench_spec, label=sm.wildcards.label,
                 display=sm.params.model["label"], eval_cfg=sm.params.eval_cfg, prompt=sm.params.prompt,
                 model_spec=sm.params.model_spec, threads=sm.threads, gpus=sm.resources.get("gpu", 0),
                 cache_cfg=sm.params.cache, log_path=sm.log[0], sandbox_cfg=sm.params.sandbox,
                 family=sm.params.family, paper_model=sm.params.paper_model)


run_stage(snakemake, main)  # noqa: F821 (injected by snakemake)
