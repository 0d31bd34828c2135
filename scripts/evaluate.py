from skyt1.workflow.runner import each_target_on_its_engine, run_stage
from skyt1.stages import evaluate
from skyt1.stages.common import Paths


def main(sm):
    """Every benchmark of one model, on the one engine this job owns."""

    def one(i, bench, args, job):
        evaluate.run(evaluate.Spec(**args), Paths(sm.input.bench[i], sm.input.model, sm.output.samples[i],
                                                  sm.output.summaries[i]), job)
        return sm.output.summaries[i]

    each_target_on_its_engine(sm, "evaluate", "bench", "eval", one)


run_stage(snakemake, main)  # noqa: F821 (injected by snakemake)
