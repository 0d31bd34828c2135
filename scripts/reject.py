from skyt1.runner import run_stage
from skyt1.settings import stage_args
from skyt1.stages import reject


def main(sm):
    a = stage_args("reject", sm)
    reject.run(sm.input[0], sm.output.accepted, sm.output.rejected, sm.output.stats, a["cfg"], sandbox_cfg=a["sandbox"],
               scorer=a["scorer"], domain=a["domain"], threads=sm.threads,
               evaluator=a.get("evaluator"))


run_stage(snakemake, main)  # noqa: F821 (injected by snakemake)
