from skyt1.runner import optional_input, run_stage
from skyt1.stages import sample


def main(sm):
    model = optional_input(sm, "model")
    sample.run(sm.input.records, model, sm.output.traces, sm.output.stats, sm.params.cfg, sm.params.prompt,
               sm.params.model_spec, threads=sm.threads, gpus=sm.resources.get("gpu", 0),
               cache_cfg=sm.params.cache, model_name=sm.params.model_name, log_path=sm.log[0],
               source_spec=sm.params.source_spec, artifacts=sm.params.artifacts)


run_stage(snakemake, main)  # noqa: F821 (injected by snakemake)
