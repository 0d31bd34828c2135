from skyt1.runner import run_stage
from skyt1.stages import mix


def main(sm):
    mix.run(list(sm.input.accepted), sm.output.data, sm.output.info, sm.output.report, sm.params.cfg, sm.params.seed,
            histogram_path=sm.output.histogram, tokenizer_dir=sm.input.tokenizer, cutoff_len=sm.params.cutoff_len,
            reject_stats_paths=list(sm.input.reject_stats))


run_stage(snakemake, main)  # noqa: F821 (injected by snakemake)
