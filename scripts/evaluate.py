from skyt1.runner import each_target_on_its_engine, run_stage
from skyt1.stages import evaluate


def main(sm):
    """Every benchmark of one model, on the one engine this job owns."""
    label = sm.wildcards.label

    def one(i, bench, a, engine):
        evaluate.run(sm.input.bench[i], sm.input.model, sm.output.samples[i], sm.output.summaries[i],
                     benchmark=bench, bench_spec=a["bench_spec"], label=label,
                     display=a["model"]["label"], eval_cfg=a["eval_cfg"], prompt=a["prompt"],
                     model_spec=a["model_spec"], threads=sm.threads, gpus=sm.resources.get("gpu", 0),
                     cache_cfg=a["cache"], log_path=sm.log[0], sandbox_cfg=a["sandbox"],
                     family=a["model"].get("family"), paper_model=a["model"].get("paper_model"),
                     artifacts=a["artifacts"], engine=engine, evaluator=a.get("evaluator"))
        return sm.output.summaries[i]

    each_target_on_its_engine(sm, "evaluate", "bench", "eval", one)


run_stage(snakemake, main)  # noqa: F821 (injected by snakemake)
