"""Lineage without the pipeline: graphviz comes with the install, `make dag` draws both presets, the
config-values hash, and the lineage walk over hand-written records (the tiny pipeline's own records are
checked in test_pipeline.py)."""
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import REPO

from skyt1.provenance import lineage
from skyt1 import provenance
from skyt1.core.errors import SkyT1Error
from skyt1.core.io import sha256_file, write_json

# Starts engines, trains, runs Snakemake or many sandboxes: outside the fast gate (make test-fast).
pytestmark = pytest.mark.slow

SVG = "{http://www.w3.org/2000/svg}"


def svg_nodes(path: Path) -> list[str]:
    """Node titles of a graphviz SVG (parsing fails on an invalid file)."""
    root = ET.parse(path).getroot()
    assert root.tag == f"{SVG}svg"
    return [g.find(f"{SVG}title").text for g in root.iter(f"{SVG}g") if g.get("class") == "node"]


def test_graphviz_is_a_declared_debian_dependency():
    pkgs = [l.strip() for l in (REPO / "requirements/apt.txt").read_text().splitlines() if l.strip() and not l.startswith("#")]
    assert "graphviz" in pkgs
    proc = subprocess.run(["dot", "-V"], capture_output=True, text=True)  # installed by .ci/run / make install
    assert proc.returncode == 0 and "graphviz" in proc.stderr


def test_make_dag_writes_svg_for_both_presets(tmp_path):
    # -o install: the suite already runs inside the installed venv; do not reinstall from here.
    proc = subprocess.run(["make", "-C", str(REPO), "-o", "install", "dag", f"DAG_OUT={tmp_path}",
                           "TARGET=results/eval/base/gsm8k.summary.json"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # the model's one evaluate job (it owns its engine and runs every benchmark), its 5 benchmarks' data, the model
    assert len(svg_nodes(tmp_path / "jobs.svg")) == 7
    rules = (tmp_path / "rules.svg").read_text()
    assert "evaluate" in rules and "prepare_model" in rules and "train" not in rules
    assert len(svg_nodes(tmp_path / "sky-t1-32b.jobs.svg")) == 48  # the 32B table's full DAG, planned with no data
    big_rules = (tmp_path / "sky-t1-32b.rules.svg").read_text()
    for rule in ("data_train", "sample", "rewrite", "reject", "mix", "train", "evaluate", "table_main"):
        assert f">{rule}<" in big_rules


def test_config_hash_is_the_values_not_their_order():
    a = provenance.config_hash({"cfg": {"x": 1, "y": [1, 2]}, "seed": 3})
    assert a == provenance.config_hash({"seed": 3, "cfg": {"y": (1, 2), "x": 1}})
    assert a != provenance.config_hash({"seed": 4, "cfg": {"y": [1, 2], "x": 1}})
    assert len(a) == 16


def _job(root: Path, rule: str, params: dict, inputs: list[str], outputs: list[str], preset="tiny", sources=()):
    rec = provenance.job_record(rule, params, [root / p for p in inputs], [root / p for p in outputs], preset,
                                sources=sources)
    for d in (rec["inputs"], rec["outputs"]):  # records hold paths relative to the working directory
        for item in d:
            item["path"] = str(Path(item["path"]).relative_to(root))
    for out in outputs:
        write_json(provenance.sidecar(root / out), rec)


def test_trace_marks_changed_files_and_other_configs(tmp_path):
    raw = tmp_path / "raw.txt"
    raw.write_text("raw\n")
    (tmp_path / "results").mkdir()
    (tmp_path / "results/a.txt").write_text("a\n")
    _job(tmp_path, "make_a", {"n": 1}, [], ["results/a.txt"],
         sources=[{"kind": "local file", "path": str(raw), "sha256": sha256_file(raw)}])
    (tmp_path / "results/b.txt").write_text("b\n")
    _job(tmp_path, "make_b", {"m": 2}, ["results/a.txt"], ["results/b.txt"])

    g = lineage.trace("results/b.txt", tmp_path)
    assert [j["rule"] for j in g["jobs"].values()] == ["make_b", "make_a"]
    assert not any(n["marks"] for n in [*g["files"].values(), *g["jobs"].values()])
    assert [n["info"]["path"] for n in g["files"].values() if n["kind"] == "source"] == [str(raw)]

    # current_state()'s shape: make_a's params differ from those snakemake recorded (its --summary status)
    current = {"preset": "sky-t1-32b", "error": None, "outputs": {
        "results/b.txt": {"rule": "make_b", "status": "ok"}, "results/a.txt": {"rule": "make_a", "status": "params changed"}}}
    (tmp_path / "results/a.txt").write_text("edited by hand\n")
    raw.write_text("raw, edited\n")
    g = lineage.trace("results/b.txt", tmp_path, current)
    assert g["files"]["results/a.txt"]["marks"] == ["changed since it was made"]
    assert g["files"]["results/b.txt"]["marks"] == []
    src = next(n for n in g["files"].values() if n["kind"] == "source")
    assert src["marks"] == ["changed since it was read"]
    jobs = {j["rule"]: j["marks"] for j in g["jobs"].values()}
    assert jobs["make_b"] == ["made under preset 'tiny', current is 'sky-t1-32b'"]
    assert any(m.startswith("config values changed") for m in jobs["make_a"])
    svg = tmp_path / "g.svg"
    lineage.dot_to_svg(lineage.to_dot(g), svg)
    text = svg.read_text()
    assert len(svg_nodes(svg)) == 5 and "changed since it was made" in text and "rule make_a" in text


def test_a_file_without_a_record_is_one_clear_error(tmp_path):
    (tmp_path / "x.csv").write_text("1\n")
    proc = subprocess.run([sys.executable, "-m", "skyt1.cli", "provenance", "x.csv",
                           "--no-config-check"], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.startswith("skyt1 error: x.csv has no lineage record") and "fix:" in proc.stderr


@pytest.mark.parametrize("cell, message", [("gsm8k", "is not BENCHMARK,MODEL"), ("nosuch,base", "no cell nosuch,base")])
def test_bad_cell_names_the_fix(tmp_path, cell, message):
    (tmp_path / "t.csv").write_text("benchmark,ours: Base\n")
    write_json(tmp_path / "t.csv.lineage.json", {"inputs": []})
    with pytest.raises(SkyT1Error, match=message):
        lineage.cell_inputs(tmp_path, "t.csv", cell)


def test_data_adapters_record_their_raw_files_and_revisions():
    from skyt1 import data
    from skyt1.data.common import resolved_commit

    fixture = REPO / "tests/fixtures/hub/gsm8k_test.jsonl"
    provenance.take_sources()
    data.load("gsm8k", {"adapter": "gsm8k", "options": {"data_files": str(fixture), "revision": "v1"}})
    assert provenance.take_sources() == [{"kind": "local file", "path": str(fixture), "sha256": sha256_file(fixture)}]
    # Offline, a revision that is already a commit is its own resolution; a branch resolves to None unless
    # the datasets cache folder (named by the commit) says which commit was read.
    assert resolved_commit("openai/gsm8k", "a" * 40) == "a" * 40
    assert resolved_commit("openai/gsm8k", "main") is None

    class Cached:
        cache_files = [{"filename": f"/c/openai___gsm8k/main/0.0.0/{'b' * 40}/gsm8k-test.arrow"}]
    assert resolved_commit("openai/gsm8k", "main", Cached()) == "b" * 40


def test_current_state_reads_changed_params_from_snakemakes_command_line(tmp_path):
    """A real snakemake run records its params in .snakemake/metadata; current_state() asks snakemake's
    public CLI (--summary, --rulegraph) under another config."""
    (tmp_path / "Snakefile").write_text(
        'rule make_a:\n    output: "results/a.txt"\n    params: n=config.get("n", 1)\n'
        '    shell: "echo {params.n} > {output}"\n')
    subprocess.run([sys.executable, "-m", "snakemake", "--cores", "1", "results/a.txt"], cwd=tmp_path,
                   check=True, capture_output=True)
    same, other = tmp_path / "same.yaml", tmp_path / "other.yaml"
    same.write_text("n: 1\npreset: tiny\n")
    other.write_text("n: 2\npreset: sky-t1-32b\n")
    now = lineage.current_state(tmp_path, "results/a.txt", [same], snakefile=tmp_path / "Snakefile")
    assert now["error"] is None and now["preset"] == "tiny"
    assert now["outputs"] == {"results/a.txt": {"rule": "make_a", "status": "ok"}} and "make_a" in now["rule_dot"]
    now = lineage.current_state(tmp_path, "results/a.txt", [other], snakefile=tmp_path / "Snakefile")
    assert now["outputs"]["results/a.txt"]["status"] == "params changed" and now["preset"] == "sky-t1-32b"
    bad = lineage.current_state(tmp_path, "results/nothing.txt", [same], snakefile=tmp_path / "Snakefile")
    assert bad["error"].startswith("snakemake exited 1")


def test_a_job_collects_its_provenance_once(tmp_path, monkeypatch):
    """The runner's job: git runs once and each input is hashed once, though the stage's stats and the
    lineage record both describe them (the same values in both)."""
    import json
    from types import SimpleNamespace

    from skyt1.core import io
    from skyt1.workflow import runner

    inputs = [tmp_path / "in1.txt", tmp_path / "in2.txt"]
    for i, p in enumerate(inputs):
        p.write_text(f"input {i}\n")
    hashed = []
    real = io.sha256_file
    monkeypatch.setattr(provenance, "sha256_file", lambda p, *a: hashed.append(str(p)) or real(p, *a))
    out, stats = tmp_path / "out.txt", tmp_path / "out.stats.json"

    def stage(sm):
        out.write_text("made\n")
        write_json(stats, {"provenance": provenance.collect("stage", {"k": 1}, inputs)})

    sm = SimpleNamespace(rule="make_out", log=[str(tmp_path / "job.log")], input=[str(p) for p in inputs],
                         output=[str(out), str(stats)], params={"k": 1}, wildcards={}, config={"preset": "tiny"})
    calls = provenance.GIT_CALLS
    runner.run_stage(sm, stage)
    assert provenance.GIT_CALLS - calls == 1
    assert sorted(hashed) == sorted([*map(str, inputs), str(out), str(stats)])  # inputs once, outputs once
    record = json.loads(provenance.sidecar(out).read_text())
    made = json.loads(stats.read_text())["provenance"]
    assert made["git"] == record["git"] and made["git"]["commit"] and made["packages"] == record["packages"]
    assert made["inputs"] == record["inputs"]
    assert "OPENAI_API_KEY" not in provenance.sidecar(out).read_text()
