"""Pins: `skyt1 lock` resolves every hub input of a preset to a commit; the pipeline reads through the lock
and refuses an unpinned input. The hub is unreachable here: the resolver stands in for huggingface_hub's
dataset_info/model_info (as strict: an unknown repository raises, an answer is a 40-hex commit), and the
data is the hub fixtures the adapter tests use (tests/fixtures/hub)."""
import copy
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from skyt1 import config, data
from skyt1.workflow import lock
from skyt1.cli import main
from skyt1.core.errors import SkyT1Error
from skyt1.stages import data as data_stage

REPO = Path(__file__).resolve().parents[1]
FXH = REPO / "tests" / "fixtures" / "hub"


def preset(*files, **extra):
    user = {}
    for f in files:
        user = config.deep_merge(user, config.load_yaml(REPO / "config" / f))
    cfg = config.resolve(config.deep_merge(user, extra), REPO / "config")
    config.validate(cfg, REPO / "config" / "schema.yaml")
    return cfg


def fake_hub(kind, repo, revision):
    if repo.startswith("nobody/"):
        raise FileNotFoundError(f"404 Client Error: Repository Not Found for url: .../{repo}")
    return hashlib.sha1(f"{kind}:{repo}@{revision}".encode()).hexdigest()


def test_presets_without_hub_inputs_need_no_lock():
    for files in (("tiny.yaml",), ("smoke-32b.yaml",)):
        cfg = preset(*files)
        assert lock.hub_inputs(cfg) == []
        assert lock.apply(copy.deepcopy(cfg), REPO)[1] == []


def test_lock_pins_every_hub_input_and_the_pipeline_reads_the_commits(tmp_path, monkeypatch):
    cfg = preset("sky-t1-32b.yaml", lock=str(tmp_path / "sky-t1-32b.lock.yaml"))
    repos = {(i["kind"], i["repo"]) for i in lock.hub_inputs(cfg)}
    assert ("dataset", "NovaSky-AI/labeled_numina_difficulty") in repos  # the labels are hub inputs too
    assert ("dataset", "DigitalLearningGmbH/MATH-lighteval") in repos
    assert {r for k, r in repos if k == "model"} == {"Qwen/QwQ-32B-Preview", "Qwen/Qwen2.5-32B-Instruct",
                                                      "NovaSky-AI/Sky-T1-32B-Preview"}
    written = lock.write(cfg, tmp_path / "sky-t1-32b.lock.yaml", resolver=fake_hub)
    on_disk = yaml.safe_load((tmp_path / "sky-t1-32b.lock.yaml").read_text())
    assert on_disk == written and {e["repo"] for e in on_disk["datasets"].values()} | \
        {e["repo"] for e in on_disk["models"].values()} == {r for _, r in repos}
    taco = on_disk["datasets"]["BAAI/TACO@main"]
    assert taco["used_by"] == ["train_sources.taco.options", "train_sources.taco_test.options"]

    pinned, unpinned = lock.apply(copy.deepcopy(cfg), REPO)
    assert unpinned == []
    commit = fake_hub("dataset", "NovaSky-AI/labeled_numina_difficulty", "main")
    amc = pinned["train_sources"]["numina_amc_aime"]["options"]
    assert amc["labels"]["revision"] == commit
    assert amc["pinned"]["commit"] == fake_hub("dataset", "AI-MO/NuminaMath-CoT", "main")
    assert amc["pinned"]["lock"].endswith("sky-t1-32b.lock.yaml") and amc["pinned"]["revision"] == "main"
    assert pinned["models"]["qwq-32b-preview"]["revision"] == fake_hub("model", "Qwen/QwQ-32B-Preview", "main")

    # the adapter asks the hub for exactly the locked commits (NuminaMath by load_dataset, the labels' file by hf://)
    asked = []

    def load_dataset(path, *args, **kwargs):
        asked.append((path, kwargs.get("revision"), kwargs.get("data_files")))
        raise ConnectionError("offline")
    monkeypatch.setattr("datasets.load_dataset", load_dataset)
    with pytest.raises(SkyT1Error):
        data.load("numina_amc_aime", pinned["train_sources"]["numina_amc_aime"])
    assert asked[0][:2] == ("AI-MO/NuminaMath-CoT", amc["revision"])
    monkeypatch.undo()

    # provenance: the data job's record names the lock and the commit (read from the fixture as the hub's rows)
    spec = copy.deepcopy(pinned["train_sources"]["numina_amc_aime"])
    spec["options"]["data_files"] = str(FXH / "numina_cot.parquet")
    spec["options"]["labels"]["data_files"] = str(FXH / "labeled_numina_difficulty" / "labeled_amc_aime_0_-1.json")
    data_stage.run(data_stage.Spec(spec), data_stage.Paths("numina_amc_aime", str(tmp_path / "amc.jsonl"), str(tmp_path / "amc.meta.json")))
    prov = json.loads((tmp_path / "amc.meta.json").read_text())["provenance"]["config"]["options"]
    assert prov["pinned"]["commit"] == amc["revision"] and prov["labels"]["revision"] == commit


def test_an_unpinned_input_is_refused_in_one_line_unless_allowed(tmp_path):
    path = tmp_path / "l.lock.yaml"
    cfg = preset("sky-t1-32b.yaml", lock=str(path))
    lock.write(cfg, path, resolver=fake_hub)
    on_disk = yaml.safe_load(path.read_text())
    del on_disk["models"]["Qwen/QwQ-32B-Preview@main"]
    path.write_text(yaml.safe_dump(on_disk))
    _, unpinned = lock.apply(copy.deepcopy(cfg), REPO)
    assert [(u["repo"], u["where"]) for u in unpinned] == [("Qwen/QwQ-32B-Preview", "models.qwq-32b-preview")]
    msg = str(lock.refusal(cfg, unpinned))
    assert "\n" not in msg and "Qwen/QwQ-32B-Preview@main" in msg and "skyt1 lock" in msg and "allow_unpinned" in msg
    # a revision that is a commit already pins itself
    cfg["models"]["qwq-32b-preview"]["revision"] = "a" * 40
    assert lock.apply(copy.deepcopy(cfg), REPO)[1] == []


@pytest.mark.slow
def test_a_real_run_stops_before_any_job_on_an_unpinned_input(tmp_path):
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(tmp_path), "--cores", "1",
           "results/data/train/apps.jsonl", "--configfile", str(REPO / "config/sky-t1-32b.yaml")]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    assert proc.returncode != 0
    err = [line for line in proc.stderr.splitlines() if line.strip()]
    assert err[-1].startswith("skyt1 lock error: hub dataset") and "skyt1 lock --configfile" in err[-1]
    assert not (tmp_path / "results").exists()
    # asked for: the run plans (a dry run here) and says what it reads unpinned
    proc = subprocess.run(cmd + ["-n", "--config", "allow_unpinned=True"], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "skyt1: allow_unpinned: 29 hub inputs read at their revision" in proc.stderr


def test_lock_command_writes_beside_the_config_and_check_reports(tmp_path, monkeypatch, capsys):
    cfgfile = tmp_path / "mine.yaml"
    cfgfile.write_text("preset: sky-t1-32b\nlock: null\n")
    monkeypatch.setattr(lock, "hub_resolver", fake_hub)
    assert main(["lock", "--configfile", str(cfgfile)]) == 0
    out = capsys.readouterr().out
    assert (tmp_path / "mine.lock.yaml").exists() and "pinned" in out and "add `lock:" in out
    cfgfile.write_text(f"preset: sky-t1-32b\nlock: {tmp_path / 'mine.lock.yaml'}\n")
    assert main(["lock", "--configfile", str(cfgfile), "--check"]) == 0
    assert "29 of 29 hub inputs pinned" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"preset: sky-t1-32b\nlock: {tmp_path / 'bad.lock.yaml'}\n"
                   "models: {qwq-32b-preview: {repo: nobody/missing}}\n")
    assert main(["lock", "--configfile", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "cannot resolve model nobody/missing@main" in err and not (tmp_path / "bad.lock.yaml").exists()
