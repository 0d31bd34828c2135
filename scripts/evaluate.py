from skyt1.runner import optional_input, run_stage
from skyt1.settings import stage_args
from skyt1.stages import evaluate


def main(sm):
    a = stage_args("evaluate", sm)
    evaluate.run(sm.input.bench, sm.input.model, sm.output.samples, sm.output.summary,
                 benchmark=sm.wildcards.bench, bench_spec=a["bench_spec"], label=sm.wildcards.label,
                 display=a["model"]["label"], eval_cfg=a["eval_cfg"], prompt=a["prompt"],
                 model_spec=a["model_spec"], threads=sm.threads, gpus=sm.resources.get("gpu", 0),
                 cache_cfg=a["cache"], log_path=sm.log[0], sandbox_cfg=a["sandbox"],
                 family=a["model"].get("family"), paper_model=a["model"].get("paper_model"),
                 artifacts=a["artifacts"], engine=optional_input(sm, "engine"), evaluator=a.get("evaluator"))


run_stage(snakemake, main)  # noqa: F821 (injected by snakemake)
