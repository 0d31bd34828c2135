from skyt1.workflow.runner import each_target_on_its_engine, optional_input, run_stage
from skyt1.stages import rewrite
from skyt1.stages.common import Paths


def main(sm):
    """Every source, on the one engine this job owns (none on an external endpoint)."""
    model = optional_input(sm, "model")

    def one(i, source, args, job):
        rewrite.run(rewrite.Spec(**args), Paths(sm.input.traces[i], model, sm.output.rewritten[i], sm.output.stats[i]), job)
        return sm.output.rewritten[i]

    each_target_on_its_engine(sm, "rewrite", "source", "rewrite", one)


run_stage(snakemake, main)  # noqa: F821 (injected by snakemake)
