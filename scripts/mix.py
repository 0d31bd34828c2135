from skyt1.workflow.runner import run_stage
from skyt1.settings import stage_args
from skyt1.stages import mix


def main(sm):
    paths = mix.Paths(tuple(sm.input.accepted), sm.output.data, sm.output.info, sm.output.report,
                      histogram=sm.output.histogram, tokenizer=sm.input.tokenizer, rows=sm.output.rows,
                      reject_stats=tuple(sm.input.reject_stats))
    mix.run(mix.Spec(**stage_args("mix", sm)), paths)


run_stage(snakemake, main)  # noqa: F821 (injected by snakemake)
