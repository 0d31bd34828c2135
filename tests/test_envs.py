"""One environment per kind of rule: envs/*.yaml (what --sdm conda builds) and the venvs that
`make install` builds from the same files must agree, package by package."""
import json
import subprocess

import pytest
from conftest import REPO
from packaging.requirements import Requirement

from tools import envs

# kind -> the venv that serves it here (the CPU engine server runs from .venv: no conda on these machines)
VENVS = {"pipeline": REPO / ".venv", "train": REPO / ".venv-train", "engine-cpu": REPO / ".venv"}
LIST_SCRIPT = ("import json, importlib.metadata as m; "
               "print(json.dumps({d.metadata['Name'].lower().replace('_', '-'): d.version for d in m.distributions()}))")


def installed(env_dir):
    python = env_dir / "bin" / "python"
    assert python.exists(), f"{env_dir} is missing: run `make install`"
    out = subprocess.run([str(python), "-c", LIST_SCRIPT], capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def test_env_files_parse_and_install_skyt1():
    for kind in ("pipeline", "train", "vllm", "engine-cpu"):
        reqs = envs.pip_requirements(REPO / "envs" / f"{kind}.yaml")
        assert reqs, kind
        for r in reqs:
            Requirement(r)  # every entry is a valid pip requirement
        # each environment installs skyt1 itself: under --sdm conda through its post-deploy script
        deploy = (REPO / "envs" / f"{kind}.post-deploy.sh").read_text()
        assert "pip install --no-deps -e" in deploy and "SKYT1_REPO" in deploy
        for dep in ("pyyaml", "jsonschema", "tqdm", "math-verify"):  # what skyt1 itself imports (pyproject)
            assert any(envs.name_of(r) == dep for r in reqs), (kind, dep)


@pytest.mark.parametrize("kind", sorted(VENVS))
def test_local_venv_matches_its_env_file(kind):
    have = installed(VENVS[kind])
    problems = []
    for line in envs.pip_requirements(REPO / "envs" / f"{kind}.yaml"):
        if line.startswith("-e"):
            continue
        req = Requirement(line)
        name = envs.name_of(req.name)
        version = have.get(name)
        if version is None:
            problems.append(f"{name}: not installed")
        elif not req.specifier.contains(version.split("+")[0], prereleases=True):
            problems.append(f"{name}: {version} does not satisfy {req.specifier}")
    assert not problems, f"{VENVS[kind]} disagrees with envs/{kind}.yaml: {problems}"
    assert "skyt1" in have
    python = VENVS[kind] / "bin" / "python"
    where = subprocess.run([str(python), "-c", "import skyt1; print(skyt1.__file__)"], capture_output=True, text=True,
                           env={"PATH": "/usr/bin:/bin"}, check=True).stdout.strip()
    assert where.startswith(str(REPO / "src")), where  # this checkout's skyt1, installed editable


def test_pipeline_env_is_free_of_llamafactory_pins():
    """The point of the split: snakemake and numpy move on while LLaMA-Factory keeps its pins."""
    pipe, train = installed(VENVS["pipeline"]), installed(VENVS["train"])
    assert "llamafactory" not in pipe and "llamafactory" in train
    assert int(pipe["numpy"].split(".")[0]) >= 2 and int(train["numpy"].split(".")[0]) < 2
    assert "snakemake-executor-plugin-slurm" in pipe
