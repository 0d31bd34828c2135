from skyt1.workflow.runner import each_target_on_its_engine, optional_input, run_stage
from skyt1.stages import sample
from skyt1.stages.common import Paths


def main(sm):
    """Shard {shard} of every source, on the one engine this job owns."""
    model = optional_input(sm, "model")

    def one(i, source, args, job):
        sample.run(sample.Spec(**args), Paths(sm.input.records[i], model, sm.output.traces[i], sm.output.stats[i]), job)
        return sm.output.traces[i]

    each_target_on_its_engine(sm, "sample", "source", "sample", one)


run_stage(snakemake, main)  # noqa: F821 (injected by snakemake)
