from skyt1.runner import run_stage
from skyt1.stages import reject


def main(sm):
    reject.run(sm.input[0], sm.output.accepted, sm.output.rejected, sm.output.stats, sm.params.cfg,
               sandbox_cfg=sm.params.sandbox,
               scorer=sm.params.scorer, domain=sm.params.domain, threads=sm.threads)


run_stage(snakemake, main)  # noqa: F821 (injected by snakemake)
