from skyt1.runner import run_stage
from skyt1.settings import stage_args
from skyt1.stages import mix


def main(sm):
    a = stage_args("mix", sm)
    mix.run(list(sm.input.accepted), sm.output.data, sm.output.info, sm.output.report, a["cfg"], a["seed"],
            histogram_path=sm.output.histogram, tokenizer_dir=sm.input.tokenizer, cutoff_len=a["cutoff_len"],
            artifacts=a["artifacts"], rows_path=sm.output.rows, reject_stats_paths=list(sm.input.reject_stats))


run_stage(snakemake, main)  # noqa: F821 (injected by snakemake)
