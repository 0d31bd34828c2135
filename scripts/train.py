from pathlib import Path

from skyt1.runner import run_stage
from skyt1.settings import stage_args
from skyt1.stages import train


def main(sm):
    # The checkout's path is operational (it must not retrain a model when the checkout moves).
    a = stage_args("train", sm, repo_root=str(Path(sm.scriptdir).parent))
    train.run(sm.input.student, sm.input.data, sm.input.info, sm.output[0], a["cfg"], a["model_spec"],
              log_path=sm.log[0], repo_root=a["repo_root"], gpus=sm.resources.get("gpu", 0))


run_stage(snakemake, main)  # noqa: F821 (injected by snakemake)
