"""Stage logic on small in-memory data (the real pipeline is exercised in test_pipeline.py)."""
import json

import pytest

from skyt1.core.errors import SkyT1Error
from skyt1.core.formatting import assemble
from skyt1.generation import Completion, Params
from skyt1.generation.run import Partial, partial_path, run_items
from skyt1.core.io import atomic_path, read_jsonl, write_jsonl
from skyt1.stages import mix, reject, table


def row(i, question, domain="math", answer="1", rewritten=None, source="s"):
    return {"id": f"{source}/{i}", "source": source, "domain": domain, "question": question, "answer": answer,
            "tests": None, "metadata": {}, "rewritten": rewritten or assemble("t", rf"\boxed{{{answer}}}")}


def run_reject(tmp_path, rows, require_format=True, name="r"):
    """reject.run on rows: ({id: accepted row}, {id: reject reason})."""
    src = tmp_path / f"{name}.jsonl"
    write_jsonl(src, rows)
    paths = reject.Paths(str(src), str(tmp_path / f"{name}.acc.jsonl"), str(tmp_path / f"{name}.rej.jsonl"),
                         str(tmp_path / f"{name}.stats.json"))
    reject.run(reject.Spec({"require_format": require_format}, {}), paths)
    return ({r["id"]: r for r in read_jsonl(paths.accepted)},
            {r["id"]: r["reject_reason"] for r in read_jsonl(paths.rejected)})


def test_reject_reasons(tmp_path):
    from skyt1.scoring import score_item

    ok = row(0, "q", answer="2", rewritten=assemble("1+1", r"\boxed{2}"))
    wrong = row(1, "q", answer="2", rewritten=assemble("1+1", r"\boxed{3}"))
    unformatted = row(2, "q", answer="2", rewritten=r"\boxed{2}")
    accepted, reasons = run_reject(tmp_path, [ok, wrong, unformatted])
    assert list(accepted) == ["s/0"] and accepted["s/0"]["verdict"]["accepted"]
    assert reasons["s/1"].startswith("wrong answer")
    assert reasons["s/2"] == "format: no thought section"
    accepted, _ = run_reject(tmp_path, [unformatted], require_format=False, name="loose")
    assert list(accepted) == ["s/2"]
    with pytest.raises(SkyT1Error, match="sandbox"):  # code is never scored outside the sandbox
        score_item(row(3, "q", domain="code", answer=None), "print(1)")


def test_mix_dedupes_applies_quotas_and_is_seeded(tmp_path):
    rows = [row(i, f"Question {i}") for i in range(10)] + [row(99, "  question 3 ")]  # normalized duplicate
    rows += [row(i, f"sci {i}", domain="science", source="t") for i in range(4)]
    src = tmp_path / "a.jsonl"
    write_jsonl(src, rows)
    cfg = {"dataset_name": "sky_t1", "system_prompt": "SYS", "quotas": {"math": 6, "science": 2}, "min_rows": 1,
           "dedupe": True}
    outs = []
    for k in range(2):
        d = tmp_path / f"run{k}"
        mix.run(mix.Spec(cfg, seed=7), mix.Paths((str(src),), d / "sky_t1.json", d / "dataset_info.json", d / "report.json"))
        outs.append(json.loads((d / "sky_t1.json").read_text()))
    assert outs[0] == outs[1]
    report = json.loads((tmp_path / "run0" / "report.json").read_text())
    assert report["duplicates_removed"] == 1
    assert report["per_domain"] == {"math": 6, "science": 2}
    first = outs[0][0]
    assert first["system"] == "SYS" and [t["from"] for t in first["conversations"]] == ["user", "assistant"]
    info = json.loads((tmp_path / "run0" / "dataset_info.json").read_text())
    assert info["sky_t1"]["file_name"] == "sky_t1.json" and info["sky_t1"]["formatting"] == "sharegpt"


def test_mix_refuses_too_few_rows(tmp_path):
    src = tmp_path / "a.jsonl"
    write_jsonl(src, [row(0, "q")])
    cfg = {"dataset_name": "x", "system_prompt": "S", "quotas": {"math": 5}, "min_rows": 3, "dedupe": True}
    with pytest.raises(SkyT1Error, match="only 1 accepted rows"):
        mix.run(mix.Spec(cfg, seed=0), mix.Paths((str(src),), tmp_path / "x.json", tmp_path / "i.json", tmp_path / "r.json"))
    assert not (tmp_path / "x.json").exists()


def test_table_rows_intervals_verdicts_and_paper_columns(tmp_path):
    summaries = [{"benchmark": b, "model": m, "model_display": m.upper(), "metric": "accuracy", "items": 4,
                  "samples_per_item": 1, "value": acc, "ci95": {"low": acc - 20, "high": acc + 20, "method": "x"},
                  "paper_name": pn, "failures": {"shares": {"no_answer": 0.25, "max_tokens": 0.5}}}
                 for b, pn in (("math500", "Math500"), ("gsm8k", "GSM8K"))
                 for m, acc in (("base", 25.0), ("sky", 70.0))]
    roles = {"base": {"paper_model": "Qwen2.5-32B-Instruct"}, "sky": {"paper_model": "Sky-T1-32B-Preview"}}
    header, rows = table.build(summaries, ["base", "sky"], ["Sky-T1-32B-Preview", "o1-preview"], roles)
    assert header[5:17] == ["ours: BASE", "ci95 low: BASE", "ci95 high: BASE", "verdict: BASE", "no answer %: BASE",
                            "truncated %: BASE", "ours: SKY", "ci95 low: SKY", "ci95 high: SKY", "verdict: SKY",
                            "no answer %: SKY", "truncated %: SKY"]
    assert header[17:] == ["paper: Sky-T1-32B-Preview", "paper: o1-preview", "paper_source"]
    # Math500 base: 81.4 lies above [5, 45] -> below; sky: 86.4 lies inside [50, 90] -> reproduced
    assert rows[0][:17] == ["math500", "Math500", "accuracy", 4, 1, 25.0, 5.0, 45.0, "below", 25.0, 50.0,
                            70.0, 50.0, 90.0, "reproduced", 25.0, 50.0]
    assert rows[0][17:19] == [86.4, 81.4] and "82.4" in rows[0][19]
    assert rows[1][17:] == ["", "", ""]  # the paper reports no GSM8K number
    assert rows[1][8] == "" and rows[1][14] == ""  # nor a verdict
    md = table.to_markdown(header, rows)
    assert "| 25.00 [5.00, 45.00] | below | 25.0% / 50.0% |" in md and "ours: SKY (95% CI) | verdict: SKY" in md


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.jsonl"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash")
    assert list(tmp_path.iterdir()) == []


class CrashingBackend:
    """A fault injector, not a model: returns canned text and dies after `crash_after` items,
    the way a killed job would, to check item-level resume."""
    name = "fault-injector"

    def __init__(self, crash_after=None):
        self.crash_after = crash_after
        self.calls = 0

    def generate(self, conversations, params, on_done):
        for i, conv in enumerate(conversations):
            if self.crash_after is not None and self.calls >= self.crash_after:
                raise KeyboardInterrupt("injected crash")
            self.calls += 1
            on_done(i, Completion([conv[-1]["content"].upper()], ["stop"], 1, 1))

    def close(self):
        pass


def test_resume_generates_only_missing_items(tmp_path):
    keys = [f"k{i}" for i in range(6)]
    convs = [[{"role": "user", "content": f"q{i}"}] for i in range(6)]
    out = tmp_path / "o.jsonl"
    first = CrashingBackend(crash_after=4)
    with pytest.raises(KeyboardInterrupt):
        run_items(keys, convs, lambda: first, Params(), Partial(out, "fp"))
    assert len(read_jsonl(partial_path(out))) == 1 + 4  # header + finished items
    second = CrashingBackend()
    results, stats = run_items(keys, convs, lambda: second, Params(), Partial(out, "fp"))
    assert second.calls == 2 and stats["resumed"] == 4
    assert [results[k].texts[0] for k in keys] == [f"Q{i}" for i in range(6)]
    third = CrashingBackend()
    _, stats = run_items(keys, convs, lambda: third, Params(), Partial(out, "other settings"))
    assert third.calls == 6 and stats["resumed"] == 0


@pytest.mark.parametrize("preset", ["tiny", "sky-t1-32b"])
def test_a_rule_script_rebuilds_the_stage_spec_from_params_and_operational_settings(preset):
    """What a script gets from stage_args (params joined with the operational settings) is the Spec the stage
    module builds from the config: no field is lost in the params' split or put back wrong."""
    import importlib
    from pathlib import Path

    from skyt1 import config as skyt1_config
    from skyt1 import settings

    repo = Path(__file__).resolve().parents[1]
    cfg = skyt1_config.resolve(skyt1_config.load_yaml(repo / "config" / f"{preset}.yaml"), repo / "config")
    skyt1_config.validate(cfg, repo / "config" / "schema.yaml")
    jobs = [("prepare_model", {"model": m}) for m in cfg["models"]] + \
        [("data_train", {"source": s}) for s in cfg["train_sources"]] + \
        [("data_bench", {"bench": b}) for b in cfg["benchmarks"]] + \
        [("reject", {"source": s}) for s in cfg["sample"]["sources"]] + \
        [("plot_benchmark", {"bench": b}) for b in cfg["eval"]["benchmarks"]] + \
        [("decontaminate", {}), ("mix", {}), ("train", {"repo_root": "/checkout"}), ("table_main", {}), ("cost", {})] + \
        [("sample", {"source": s, "shard": 0}) for s in cfg["sample"]["sources"]] + \
        [("rewrite", {"source": s}) for s in cfg["sample"]["sources"]] + \
        [("evaluate", {"label": m, "bench": b}) for m in cfg["eval"]["models"] for b in cfg["eval"]["benchmarks"]]
    assert {rule for rule, _ in jobs} == set(settings.RULE_SPECS)
    for rule, w in jobs:
        module = importlib.import_module(settings.RULE_SPECS[rule])
        spec, ops = settings.split(rule, cfg, **w)
        assert module.Spec(**settings.join(spec, ops)) == module.spec(cfg, **w), (rule, w)
    assert settings.spec("plot_benchmark", cfg, bench=cfg["eval"]["benchmarks"][0]).keys() == \
        settings.spec("table_main", cfg).keys() - {"paper_columns"}  # a plot shows no paper column


def test_model_identity_reads_the_manifests_weights_hash_and_hashes_an_older_folder_once(tmp_path, monkeypatch):
    from skyt1 import identity as models  # sha256_file is looked up where identity() lives

    hashed = []
    real = models.sha256_file
    monkeypatch.setattr(models, "sha256_file", lambda p, *a: hashed.append(p) or real(p, *a))
    new, old = tmp_path / "new", tmp_path / "old"
    for folder in (new, old):
        folder.mkdir()
        (folder / "model.safetensors").write_bytes(b"weights")
        (folder / "config.json").write_text("{}")
    (old / models.MANIFEST).write_text(json.dumps({"name": "m", "source": "checkpoint"}))  # made before issue 24
    (new / models.MANIFEST).write_text(json.dumps({"name": "m", "source": "checkpoint",
                                                   "weights_sha256": models.weights_sha256(new)}))
    hashed.clear()
    assert models.identity(new) == {"weights_sha256": json.loads((new / models.MANIFEST).read_text())["weights_sha256"]}
    assert hashed == []  # read from the manifest: no byte of the weights hashed
    first = models.identity(old)
    assert len(hashed) == 2 and models.identity(old) == first == models.identity(new)  # same content, same id
    assert len(hashed) == 2  # the older folder was hashed once
