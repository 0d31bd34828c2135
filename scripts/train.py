from pathlib import Path

from skyt1.workflow.runner import run_stage
from skyt1.settings import stage_args
from skyt1.stages import train


def main(sm):
    # The checkout's path is operational (it must not retrain a model when the checkout moves).
    spec = train.Spec(**stage_args("train", sm, repo_root=str(Path(sm.scriptdir).parent)))
    paths = train.Paths(sm.input.student, sm.input.data, sm.input.info, sm.output[0], sm.log[0])
    train.run(spec, paths, gpus=sm.resources.get("gpu", 0))


run_stage(snakemake, main)  # noqa: F821 (injected by snakemake)
