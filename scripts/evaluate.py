from skyt1.runner import run_stage
from skyt1.settings import target_args
from skyt1.stages import evaluate
from skyt1.stages.common import JobEngine


def main(sm):
    """Every benchmark of one model, on the one engine this job owns."""
    label = sm.wildcards.label
    benches = list(sm.params.spec)
    first = target_args("evaluate", sm, "bench", benches[0])
    with JobEngine(first["eval_cfg"]["backend"], sm.input.model, first["model_spec"], label, threads=sm.threads,
                   gpus=sm.resources.get("gpu", 0), log_path=sm.log[0], stage="eval") as engine:
        for i, bench in enumerate(benches):
            a = target_args("evaluate", sm, "bench", bench)
            evaluate.run(sm.input.bench[i], sm.input.model, sm.output.samples[i], sm.output.summaries[i],
                         benchmark=bench, bench_spec=a["bench_spec"], label=label,
                         display=a["model"]["label"], eval_cfg=a["eval_cfg"], prompt=a["prompt"],
                         model_spec=a["model_spec"], threads=sm.threads, gpus=sm.resources.get("gpu", 0),
                         cache_cfg=a["cache"], log_path=sm.log[0], sandbox_cfg=a["sandbox"],
                         family=a["model"].get("family"), paper_model=a["model"].get("paper_model"),
                         artifacts=a["artifacts"], engine=engine.owned, evaluator=a.get("evaluator"))
    engine.write(sm.output.engine, sm.output.summaries)


run_stage(snakemake, main)  # noqa: F821 (injected by snakemake)
