"""The 32B preset is the paper's recipe: `skyt1 recipe` against a table of the recipe's values kept here
(numbers and ids as facts, texts by the sha256 of the published artifacts' texts), the artifact reader
(wheel, Python sources, pins), the task templates and the stages' new recipe switches.

The skythought wheel is real (make install fetches it from PyPI into .cache/skyt1/artifacts). The
SkyThought GitHub files cannot be fetched here or in CI: the tests use our own fixtures in their form
(tests/fixtures/artifacts), and check the real files' texts only where they have been fetched."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from skyt1 import data
from skyt1.core import records
from skyt1.published import texts
from skyt1.core.errors import SkyT1Error
from skyt1.workflow.recipe import effective, load_config
from skyt1.stages import mix

REPO = Path(__file__).resolve().parents[1]
FXA = REPO / "tests" / "fixtures" / "artifacts"
FXH = REPO / "tests" / "fixtures" / "hub"
WHEEL = texts.ARTIFACTS["skythought-wheel"]
PRESET = REPO / "config" / "sky-t1-32b.yaml"

# ---------------------------------------------------------------- the recipe's values (facts)
# sha256 of texts in the skythought 0.1.0 wheel (py3-none-any, sha256 8c0436bd...), UTF-8.
SHA = {
    "skythought": "c5ae4aa0b0d6fcadd6fa8977f5e55b1f2dccb7582bd05b80385e2f22650a9f8d",  # system_prompts.skythought, 1310 chars
    "qwen_cot": "50795fcf7f4df9be65090ce980b63e8d82f51b5cbad9492fa504aefa3ad3c9a0",  # system_prompts.qwen_cot
    "boxed_prompt": "8dc3a4e5c514d5166c01daafc3a4a1ed1ca4aeae37773c003afc087637c70155",  # numina_*, aime24, mmlu(_pro)
    "boxed_problem": "79e6f67156a5a1262732e149b6911ec9502bf64ca4595de0923ecc907b0a9b9f",  # math500, amc23, minervamath
    "boxed_question": "0b81fb7659afc65d50614b7e6d005305d4ae29c04b2bb8e283ebb162e6c96c67",  # olympiadbench_math_en
    "prompt_then_boxed": "a6f4d8346b618ff2847991b61db6ae18ac9ec2a8b1993522e52f083de17a414c",  # aime24_sky, aime25
    "gpqa": "643e279b6b91d58ebc3234e0a60d80a4092e297cd853e2039243dbdfaeaae78f",
    "gsm8k": "01163f30e49f9dd1980264dcff94dc7165ed8718d80ca629ba3eab8e30814b25",
    "stdin": "74f192f66f7c94004f68961cbd1050a0f998ec8c5e7168d8b009be6125c84d7b",  # apps with_fn_name, lcb stdin
    "call": "454e2629a5706598f24133938eecd2b304487ec7d8897fc4eb8e640b6b8d1158",  # apps without_fn_name, lcb non_stdin
    "starter": "c18ad819e330eb1d66466d1c1feba3aa9bcc252a5b2be713f8c7e73f239d7ebd",  # apps/taco starter code
    "taco_initial": "8b6988993812c680e7bcdbf7ebf28e98d7db665106b77fcf7ce907966976ab2a",
    "taco_stdin": "2891050285d27c1187b4f0f3e67f9c246151fbf96a99ed57a4a7ff87b00eb071",
    "taco_call": "33555f0e1a8d4dc749aa7a8d4db736cb859e6411234d473c56ce54236a21fb70",
}
# sha256 of the rewrite texts in SkyThought@0751518 (skythought/tools/util/prompts.py, convert_format.py).
REAL_REWRITE_SHA = {
    "user_template": "5468bea73cd9edbd04035887fe88b13784ca78f4554ba239f75660480a6f6c66",  # convert_prompt, 892 chars
    "fields.example": "5d9f9567f89ba529efb58e1049298201c16cd65cf0bf1337bacec2ee084a1a34",  # convert_prompt_example
    "system": "e7a1c4d26fee2bad058ca2f9e44ba37507a8cbf7ad4d112e681a65fa3ed96239",  # "You are a solution format convertor."
}

TRAIN_SOURCES = {  # name: (adapter, repo, name/source, split, extra options that must hold)
    # the preview's labels and the release's strict bounds (SkyThought@0751518 NUMINATaskHandler)
    "numina_math": ("numina", "AI-MO/NuminaMath-CoT", "math", "train",
                    {"labels": {"repo": "DigitalLearningGmbH/MATH-lighteval", "split": "train+test", "field": "level",
                                "above": 3, "below": 10}}),
    "numina_amc_aime": ("numina", "AI-MO/NuminaMath-CoT", "amc_aime", "train",
                        {"labels": {"repo": "NovaSky-AI/labeled_numina_difficulty", "files": ["labeled_amc_aime_0_-1.json"],
                                    "above": 0, "below": 10}}),
    "numina_olympiads": ("numina", "AI-MO/NuminaMath-CoT", "olympiads", "train",
                         {"labels": {"repo": "NovaSky-AI/labeled_numina_difficulty", "files": ["labeled_olympiads_0_-1.json"],
                                     "above": 8, "below": 10}, "head": 20000}),
    "apps": ("apps", "codeparrot/apps", None, None, {"files": ["test.jsonl"]}),
    "taco": ("taco", "BAAI/TACO", "MEDIUM", "train", {"difficulty": "MEDIUM"}),
    "taco_test": ("taco", "BAAI/TACO", "ALL", "test", {}),
    "still2": ("still2", "RUC-AIBOX/long_form_thought_data_5k", None, "train", {}),
}
TEMPLATES = {  # train source / benchmark: (style, {part: text sha key})
    "numina_math": ("plain", {"template": "boxed_prompt"}),
    "numina_amc_aime": ("plain", {"template": "boxed_prompt"}),
    "numina_olympiads": ("plain", {"template": "boxed_prompt"}),
    "apps": ("apps", {"stdin": "stdin", "call": "call", "starter_code": "starter"}),
    "taco": ("taco", {"initial": "taco_initial", "starter_code": "starter", "stdin": "taco_stdin", "call": "taco_call"}),
    "taco_test": ("taco", {"initial": "taco_initial", "starter_code": "starter", "stdin": "taco_stdin", "call": "taco_call"}),
    "math500": ("plain", {"template": "boxed_problem"}),
    "aime24": ("plain", {"template": "boxed_prompt"}),
    "olympiadbench": ("plain", {"template": "boxed_question"}),
    "gpqa_diamond": ("choices_inline", {"template": "gpqa"}),
    "livecodebench_easy": ("livecodebench", {"stdin": "stdin", "functional": "call"}),
    "livecodebench_medium": ("livecodebench", {"stdin": "stdin", "functional": "call"}),
    "livecodebench_hard": ("livecodebench", {"stdin": "stdin", "functional": "call"}),
}
BENCHMARKS = {  # the paper's table: benchmark -> (repo, split, paper row)
    "math500": ("qq8933/MATH500", "test", "Math500"),
    "aime24": ("AI-MO/aimo-validation-aime", "train", "AIME2024"),
    "livecodebench_easy": ("livecodebench/code_generation_lite", None, "LCB-Easy"),
    "livecodebench_medium": ("livecodebench/code_generation_lite", None, "LCB-Medium"),
    "livecodebench_hard": ("livecodebench/code_generation_lite", None, "LCB-Hard"),
    "gpqa_diamond": ("Idavidrein/gpqa", "train", "GPQA-Diamond"),
    "olympiadbench": ("Hothan/OlympiadBench", "train", "OlympiadBench (Math)"),
}
EVAL_MODELS = {  # label: (model repo or checkpoint, system prompt sha key, family)
    "base": ("Qwen/Qwen2.5-32B-Instruct", "qwen_cot", "qwen"),
    "teacher": ("Qwen/QwQ-32B-Preview", "qwen_cot", "qwen"),
    "sky-t1": (None, "skythought", "sky-t1"),
    "sky-t1-published": ("NovaSky-AI/Sky-T1-32B-Preview", "skythought", "sky-t1"),
}
SKY_SAMPLED = {"aime24", "gpqa_diamond"}  # temperature 0.7, n 8 for Sky-T1 models; greedy n 1 otherwise
TRAIN_ARGS = {  # SkyThought's qwen2_full_sft values as the recipe uses them (the 32B run's own values)
    "template": "qwen25", "stage": "sft", "finetuning_type": "full", "cutoff_len": 16384, "num_train_epochs": 3,
    "learning_rate": 1.0e-5, "lr_scheduler_type": "cosine", "warmup_ratio": 0.1, "per_device_train_batch_size": 1,
    "gradient_accumulation_steps": 12, "bf16": True, "dataset": "sky_t1",
    "ddp_timeout": 180000000, "preprocessing_num_workers": 16, "plot_loss": True, "max_samples": 1000000,
    "overwrite_cache": True, "logging_steps": 1, "save_steps": 100,
}


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="session")
def artifact_dir() -> Path:
    """The real wheel, where `make install` put it (fetched here if missing; PyPI is reachable in CI)."""
    folder = REPO / texts.DEFAULT_DIR
    try:
        texts.fetch("skythought-wheel", folder)
    except SkyT1Error as e:
        pytest.fail(f"the skythought wheel is needed and could not be fetched: {e}")
    return folder


@pytest.fixture()
def in_artifacts(artifact_dir, monkeypatch):
    monkeypatch.setenv("SKYT1_ARTIFACT_DIR", str(artifact_dir))
    return artifact_dir


def fixture_override(tmp_path: Path) -> Path:
    """A user override pointing the two GitHub artifacts at our fixtures (with the fixtures' sha256)."""
    local = {"skythought-prompts": FXA / "util_prompts.py", "skythought-convert-format": FXA / "convert_format.py"}
    over = {"preset": "sky-t1-32b",
            "artifacts": {n: {"file": str(p), "sha256": texts._sha256_file(p)} for n, p in local.items()}}
    path = tmp_path / "artifacts_override.yaml"
    path.write_text(yaml.safe_dump(over))
    return path


@pytest.fixture()
def recipe(in_artifacts, tmp_path) -> dict:
    return effective(load_config([str(PRESET), str(fixture_override(tmp_path))]))


# ---------------------------------------------------------------- the recipe against the table

def test_teacher_rewrite_and_mix_values(recipe):
    s = recipe["sample"]
    assert s["model"]["repo"] == "Qwen/QwQ-32B-Preview" and s["backend"]["name"] == "vllm"
    # 0.7: the temperature the release's convert scripts assert (docs/fidelity.md), set in the preset
    assert (s["params"]["max_new_tokens"], s["params"]["temperature"], s["params"]["n"]) == (16384, 0.7, 1)
    assert s["prompt"]["system"]["sha256"] == SHA["qwen_cot"] and s["prompt"]["system"]["chars"] == 107
    assert "skythought==0.1.0" in s["prompt"]["system"]["source"]
    assert set(s["sources"]) == set(TRAIN_SOURCES) - {"still2"} and s["passthrough"] == ["still2"]
    r = recipe["rewrite"]
    assert r["model"]["api_model"] == "gpt-4o-mini" and r["mode"] == "full"
    assert (r["params"]["max_new_tokens"], r["params"]["temperature"]) == (16384, 0.7)
    # The real texts' hashes are checked in test_real_github_texts_when_fetched; here the pin is recorded.
    for part in ("system", "user_template"):
        assert "@0751518524a235b060894626cd6c5902a353770f" in r["prompt"][part]["source"]
    arts = recipe["artifacts"]
    assert arts["skythought-prompts"]["sha256"] == "8a6568a2438095e7d98465b86ef34936a4a8ffd64da20070c10eddcb3818a45f"
    assert arts["skythought-wheel"]["sha256"] == WHEEL.sha256 and "local_copy" not in arts["skythought-wheel"]
    assert recipe["reject"]["require_format"] is False
    m = recipe["mix"]
    assert m["quotas"] == {} and m["system_prompt"]["sha256"] == SHA["skythought"] and m["system_prompt"]["chars"] == 1310


def test_sources_and_their_templates(recipe):
    got = recipe["data"]["train_sources"]
    assert set(got) == set(TRAIN_SOURCES)
    for name, (adapter, repo, sub, split, extra) in TRAIN_SOURCES.items():
        spec, o = got[name], got[name]["options"]
        assert (spec["adapter"], o["repo"]) == (adapter, repo), name
        assert sub in (None, o.get("source"), o.get("name")), name
        assert split is None or o.get("split") == split, name
        assert {k: o.get(k) for k in extra} == extra, name
        assert "limit" not in spec, name  # olympiads' 20,000 rows are taken before the filter (options.head)
    assert got["still2"]["passthrough"] is True
    assert {k for k, v in got.items() if v.get("passthrough")} == {"still2"}
    both = {**got, **recipe["data"]["benchmarks"]}
    for name, (style, parts) in TEMPLATES.items():
        t = both[name]["user_template"]
        assert t["style"] == style, name
        assert {k: v["sha256"] for k, v in t["parts"].items()} == {k: SHA[v] for k, v in parts.items()}, name
    assert both["aime24"]["family_templates"]["sky-t1"]["parts"]["template"]["sha256"] == SHA["prompt_then_boxed"]


def test_eval_per_model_and_benchmark(recipe):
    ev = recipe["eval"]
    assert set(ev["models"]) == set(EVAL_MODELS)
    for label, (repo, system, family) in EVAL_MODELS.items():
        m = ev["models"][label]
        assert m["family"] == family and m["prompt"]["system"]["sha256"] == SHA[system], label
        assert (m["model"].get("repo") == repo) if repo else m["model"]["checkpoint"] == "sky-t1-32b-preview"
        assert set(ev["runs"][label]) == set(BENCHMARKS)
        for bench, run in ev["runs"][label].items():
            sampled = family == "sky-t1" and bench in SKY_SAMPLED
            assert (run["params"]["temperature"], run["params"]["n"]) == ((0.7, 8) if sampled else (0.0, 1)), (label, bench)
            assert run["paper_name"] == BENCHMARKS[bench][2]
        want = SHA["prompt_then_boxed"] if family == "sky-t1" else SHA["boxed_prompt"]
        assert ev["runs"][label]["aime24"]["user_template"]["parts"]["template"]["sha256"] == want
    for bench, (repo, split, _) in BENCHMARKS.items():
        o = recipe["data"]["benchmarks"][bench]["options"]
        assert o["repo"] == repo and (split is None or o["split"] == split)
    lcb = recipe["data"]["benchmarks"]["livecodebench_easy"]["options"]
    assert lcb["version"] == "release_v2"


def test_code_sources_and_benchmarks_name_their_evaluator_profile(recipe):
    """Each code source and code benchmark of the 32B preset is judged like its official evaluator, and the
    recipe says which, with the files it follows and the limits (config/evaluators/, docs/judge.md)."""
    data = recipe["data"]
    want = {**{s: "apps" for s in ("apps",)}, **{s: "taco" for s in ("taco", "taco_test")}}
    for name, prof in want.items():
        e = data["train_sources"][name]["evaluator"]
        assert e["name"] == prof and e["wall_s"] == 4 and e["follows"], name
    assert "evaluator" not in data["train_sources"]["numina_math"]
    benches = {f"livecodebench_{d}": "livecodebench" for d in ("easy", "medium", "hard")}
    benches.update(humaneval="humaneval", mbpp="mbpp")
    for name, prof in benches.items():
        assert data["benchmarks"][name]["evaluator"]["name"] == prof, name
    e = data["benchmarks"]["livecodebench_hard"]["evaluator"]
    assert (e["wall_s"], e["recursion_limit"], e["int_max_str_digits"], e["tests"]) == (6, 50000, 50000, "all")
    assert any("LiveCodeBench/LiveCodeBench@" in f for f in e["follows"])
    for label, runs in recipe["eval"]["runs"].items():
        assert runs["livecodebench_easy"]["evaluator"] == "livecodebench", label
        assert runs["aime24"]["evaluator"] == "math", label  # no profile: the scorer evaluates


def test_training_section_is_the_train_stages_rendering(recipe):
    tr = recipe["train"]
    assert tr["student"]["repo"] == "Qwen/Qwen2.5-32B-Instruct" and tr["nproc_per_node"] == 8
    args = tr["llamafactory_args"]
    assert {k: args.get(k) for k in TRAIN_ARGS} == TRAIN_ARGS
    assert 1 * 12 * tr["nproc_per_node"] == 96  # the post's batch size
    z = tr["deepspeed_config"]["zero_optimization"]
    assert z["stage"] == 3 and z["offload_optimizer"]["device"] == "cpu" and z["offload_param"]["device"] == "cpu"


def test_reported_numbers_carry_their_source(recipe):
    rep = recipe["reported"]
    math500 = {d["source"].split(" ")[0]: d["value"] for d in rep["Math500"]["Sky-T1-32B-Preview"]}
    assert math500 == {"SkyThought": 86.4, "Sky-T1": 82.4}
    assert [d["source"].split(" ")[0] for d in rep["OlympiadBench (Math)"]["Sky-T1-32B-Preview"]] == ["SkyThought"]
    assert rep["AIME2024"]["Sky-T1-32B-Preview"][0]["value"] == 43.3


def test_recipe_command_json_and_listing(in_artifacts, tmp_path):
    over = fixture_override(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    cmd = [sys.executable, "-c", "from skyt1.cli import main; raise SystemExit(main())", "recipe",
           "--configfile", str(PRESET), str(over)]
    out = subprocess.run(cmd + ["--json"], capture_output=True, text=True, env=env, cwd=REPO)
    assert out.returncode == 0, out.stderr
    eff = json.loads(out.stdout)
    assert eff["mix"]["system_prompt"]["text"].startswith("Your role as an assistant")
    listing = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO).stdout
    assert "train.llamafactory_args.cutoff_len: 16384" in listing
    assert f"sha256 {SHA['skythought'][:16]}" in listing
    # Without the GitHub files the command lists their texts as MISSING with the pin and how to fetch them,
    # and exits 0 ...
    only_wheel = tmp_path / "only_wheel"
    only_wheel.mkdir()
    (only_wheel / WHEEL.filename).symlink_to(in_artifacts / WHEEL.filename)
    env_wheel = {**env, "SKYT1_ARTIFACT_DIR": str(only_wheel)}
    partial = subprocess.run(cmd[:-1], capture_output=True, text=True, env=env_wheel, cwd=REPO)
    assert partial.returncode == 0, partial.stderr
    line = next(x for x in partial.stdout.splitlines() if x.startswith("rewrite.prompt.system: MISSING"))
    assert "github:NovaSky-AI/SkyThought@0751518524a2" in line and "skyt1 artifacts fetch skythought-convert-format" in line
    assert "train.llamafactory_args.cutoff_len: 16384" in partial.stdout  # every other value is still there
    # ... and --strict stops with one line naming the file and how to get it.
    bare = subprocess.run(cmd[:-1] + ["--strict"], capture_output=True, text=True, env=env_wheel, cwd=REPO)
    assert bare.returncode == 1 and len(bare.stderr.strip().splitlines()) == 1
    assert "raw.githubusercontent.com/NovaSky-AI/SkyThought/0751518524a2" in bare.stderr


def test_recipe_on_a_fresh_clone_offline(tmp_path):
    """No artifact at all (a fresh clone with no network): `skyt1 recipe --json` still prints every value,
    marks each unread text with its pin and fetch command, and exits 0."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "SKYT1_ARTIFACT_DIR": str(tmp_path / "empty"),
           "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    cmd = [sys.executable, "-c", "from skyt1.cli import main; raise SystemExit(main())", "recipe",
           "--configfile", str(PRESET), "--json"]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)
    assert out.returncode == 0, out.stderr
    eff = json.loads(out.stdout)
    assert {n: a["present"] for n, a in eff["artifacts"].items()} == {
        "skythought-convert-format": False, "skythought-prompts": False, "skythought-wheel": False}
    assert "skythought-prompts = github:NovaSky-AI/SkyThought@0751518524a2" in out.stderr
    rewrite_sys = eff["rewrite"]["prompt"]["system"]
    assert rewrite_sys["pin"] == "github:NovaSky-AI/SkyThought@0751518524a235b060894626cd6c5902a353770f:skythought/tools/convert_format.py"
    assert "skyt1 artifacts fetch skythought-convert-format" in rewrite_sys["fetch"]
    assert eff["mix"]["system_prompt"]["pin"] == "pypi:skythought==0.1.0 (skythought-0.1.0-py3-none-any.whl)"
    # the values a user checks against the paper are all there
    assert eff["train"]["llamafactory_args"]["cutoff_len"] == 16384
    assert eff["data"]["decontam"] is not None
    runs = eff["eval"]["runs"]["sky-t1"]
    assert runs["math500"]["evaluator"] == "math" and runs["gpqa_diamond"]["evaluator"] == "choice"
    assert runs["livecodebench_easy"]["evaluator"] == "livecodebench"  # a code benchmark: its profile


# ---------------------------------------------------------------- the artifact reader

def test_wheel_texts_by_sha256(in_artifacts):
    r = texts.Resolver()
    sky = r.resolve({"artifact": "skythought-wheel", "member": "skythought/evals/models/model_configs.yaml",
                     "key": "system_prompts.skythought"})
    assert len(sky.text) == 1310 and sky.sha256 == SHA["skythought"] and sky.file_sha256 == WHEEL.sha256
    assert sky.version == "0.1.0"


def test_unknown_artifact_in_config_is_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"preset": "sky-t1-32b", "prompts": {"teacher": {"system": {"artifact": "skythought-whl"}}}}))
    with pytest.raises(SkyT1Error, match="config key 'prompts.teacher.system': unknown artifact 'skythought-whl'"):
        load_config([str(bad)])


def test_python_sources_are_read_not_run(tmp_path):
    r = texts.Resolver(local={"skythought-prompts": {"file": str(FXA / "util_prompts.py"),
                                                     "sha256": texts._sha256_file(FXA / "util_prompts.py")},
                              "skythought-convert-format": {"file": str(FXA / "convert_format.py"),
                                                            "sha256": texts._sha256_file(FXA / "convert_format.py")}})
    conv = r.resolve({"artifact": "skythought-prompts", "python": "convert_prompt"}).text
    assert conv.startswith("FIXTURE convert prompt") and "{example}" in conv and "{content}" in conv
    assert "    <|begin_of_solution|>" in conv  # backslash-continued lines keep their indentation, as Python reads them
    example = r.resolve({"artifact": "skythought-prompts", "python": "convert_prompt_example"}).text
    assert example.endswith("<|end_of_solution|>\n") and "\\boxed{4}" in example
    assert r.resolve({"artifact": "skythought-convert-format", "python_role": "system"}).text == "FIXTURE format converter."
    with pytest.raises(SkyT1Error, match="no module-level string missing_name"):
        r.resolve({"artifact": "skythought-prompts", "python": "missing_name"})
    # The rewrite stage's user turn: the template with the trace as {content} and the example filled in.
    from skyt1.stages.rewrite import user_text
    prompt, _ = r.resolve_prompt({"system": None, "user_template": {"artifact": "skythought-prompts", "python": "convert_prompt"},
                                  "fields": {"example": {"artifact": "skythought-prompts", "python": "convert_prompt_example"}}})
    turn = user_text({"question": "Q?", "trace": "so the answer is 7"}, prompt)
    assert turn.endswith("Content: so the answer is 7") and "two plus two is four" in turn


def test_missing_or_changed_artifact_is_one_line(tmp_path):
    ref = {"artifact": "skythought-prompts", "python": "convert_prompt"}
    folder = tmp_path / "art"
    folder.mkdir()
    r = texts.Resolver()
    r.folder = folder
    with pytest.raises(SkyT1Error) as e:
        r.resolve(ref)
    assert "not at" in str(e.value) and "raw.githubusercontent.com" in str(e.value) and "\n" not in str(e.value)
    (folder / texts.ARTIFACTS["skythought-prompts"].filename).write_text("convert_prompt = 'changed upstream'\n")
    with pytest.raises(SkyT1Error, match="not the pinned 8a6568a2438095e7"):
        r.resolve(ref)
    with pytest.raises(SkyT1Error, match="unknown artifact"):
        r.resolve({"artifact": "nope"})


def test_real_github_texts_when_fetched(artifact_dir):
    """Where `skyt1 artifacts fetch` could reach GitHub, the real rewrite texts have the recipe's hashes."""
    needed = [texts.ARTIFACTS[n] for n in ("skythought-prompts", "skythought-convert-format")]
    if not all((artifact_dir / a.filename).exists() for a in needed):
        pytest.skip("SkyThought's GitHub files are not fetched (GitHub is unreachable here): checked on a machine that has them")
    r = texts.Resolver()
    r.folder = artifact_dir
    prompt, info = r.resolve_prompt(yaml.safe_load(PRESET.read_text())["prompts"]["rewrite"])
    assert {k: v["sha256"] for k, v in info.items()} == REAL_REWRITE_SHA


# ---------------------------------------------------------------- templates on records

def _wheel_template(style, **parts):
    r = texts.Resolver()
    spec = {"style": style, "parts": {k: {"artifact": "skythought-wheel", "member": f"skythought/evals/tasks/{m}",
                                          "key": f"templating_parameters.{key}"} for k, (m, key) in parts.items()}}
    return r.resolve_template(spec, "test")[0]


def test_task_templates_render_like_the_original_handlers(in_artifacts):
    numina = _wheel_template("plain", template=("numina/numina_math.yaml", "template"))
    rec = records.make(id="x/1", source="x", domain="math", question="Compute $1+1$.", answer="2")
    turn = texts.render(numina, rec)
    assert turn.endswith(". Compute $1+1$.") and "\\boxed{}" in turn  # the {{}} escape becomes {}
    apps = _wheel_template("apps", stdin=("apps/apps.yaml", "with_fn_name_template"),
                           call=("apps/apps.yaml", "without_fn_name_template"),
                           starter_code=("apps/apps.yaml", "with_starter_code_template"))
    stdin_rec = records.make(id="a/1", source="a", domain="code", question="Add two numbers.",
                             tests={"inputs": ["1 2"], "outputs": ["3"]}, metadata={"starter_code": ""})
    call_rec = records.make(id="a/2", source="a", domain="code", question="Reverse s.",
                            tests={"inputs": [["ab"]], "outputs": ["ba"], "fn_name": "rev"},
                            metadata={"starter_code": "class Solution:\n    def rev(self, s):"})
    a, b = texts.render(apps, stdin_rec), texts.render(apps, call_rec)
    assert "stdin" in a and "stdin" not in b and a.endswith("Add two numbers.\n")  # empty starter code still appended
    assert b.endswith("Reverse s.\nclass Solution:\n    def rev(self, s):")
    taco = _wheel_template("taco", initial=("taco/taco.yaml", "initial_template"),
                           starter_code=("taco/taco.yaml", "starter_code_template"),
                           stdin=("taco/taco.yaml", "stdin_template"), call=("taco/taco.yaml", "call_template"))
    t1, t2 = texts.render(taco, stdin_rec), texts.render(taco, call_rec)
    assert t1.startswith("\nQUESTION:\nAdd two numbers.") and "Standard Input" in t1 and t1.endswith("ANSWER:\n")
    assert "class Solution" in t2 and "Call-Based" in t2
    gpqa = _wheel_template("choices_inline", template=("gpqa_diamond/gpqa_diamond.yaml", "template"))
    mc = records.make(id="g/1", source="g", domain="science", question="ignored", answer="B",
                      metadata={"stem": "Which is a noble gas?", "choices": ["N", "Ne", "O", "C"]})
    assert texts.render(gpqa, mc).endswith("Which is a noble gas?\nA) N, B) Ne, C) O, D) C")
    assert texts.render(None, rec) == "Compute $1+1$."


# ---------------------------------------------------------------- data and mix switches

def _load(adapter, files, **options):
    recs = data.load(adapter, {"adapter": adapter, "options": {"data_files": files, **options}})
    records.check_all(recs, adapter)
    return recs


def test_numina_head_is_taken_before_the_difficulty_filter():
    files, labels = str(FXH / "numina_cot.parquet"), {"data_files": str(FXH / "numina_difficulty.jsonl"), "min": 4, "max": 9}
    full = _load("numina", files, source="math", labels=labels)
    assert [r["answer"] for r in full] == ["3"]
    # The first math row is the one that passes; with head 1 it is still kept, with the filter after the head.
    assert [r["answer"] for r in _load("numina", files, source="math", head=1, labels=labels)] == ["3"]
    assert len(_load("numina", files, source="math", head=2)) == 2
    assert len(_load("numina", files, source="math", head=1)) == 1


def test_published_set_adapter_and_passthrough_mix(tmp_path):
    recs = _load("sky_t1_data", str(FXH / "sky_t1_data_17k.json"))
    assert len(recs) == 6 and [r["domain"] for r in recs[:2]] == ["math", "code"]
    assert all(r["metadata"]["reference_response"].startswith("<|begin_of_thought|>") for r in recs)
    src = tmp_path / "published.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in recs))
    out = tmp_path / "sft"
    mix.run(mix.Spec({"dataset_name": "d", "system_prompt": "SYS", "min_rows": 1, "dedupe": True}, seed=1),
            mix.Paths((str(src),), out / "d.json", out / "dataset_info.json", out / "report.json"))
    rows = json.loads((out / "d.json").read_text())
    report = json.loads((out / "report.json").read_text())
    assert len(rows) == 4 and report["duplicates_removed"] == 2  # the duplicated STILL-2 part, de-duplicated
    assert all(r["conversations"][1]["value"] == rec["metadata"]["reference_response"] for r, rec in
               zip(sorted(rows, key=lambda r: r["conversations"][0]["value"]),
                   sorted(recs[:4], key=lambda r: r["question"])))
    assert report["quota_shortfall"] == {} and rows[0]["system"] == "SYS"


def test_quotas_are_optional_caps():
    rows = [{"id": f"{d}/{i}", "source": d, "domain": d} for d in ("math", "code") for i in range(5)]
    assert len(mix.apply_quotas(rows, None, 0)) == 10
    capped = mix.apply_quotas(rows, {"math": 2}, 0)
    assert sum(r["domain"] == "math" for r in capped) == 2 and sum(r["domain"] == "code" for r in capped) == 5


def test_make_install_fetches_the_github_files():
    """`make install` asks for both SkyThought files, tolerating a GitHub it cannot reach."""
    out = subprocess.run(["make", "-n", "github-artifacts"], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert "artifacts fetch skythought-prompts skythought-convert-format --optional-github" in out.stdout
    install = subprocess.run(["make", "-n", "-p", "install"], capture_output=True, text=True, cwd=REPO).stdout
    assert any(line.startswith("install:") and "github-artifacts" in line for line in install.splitlines())


def test_optional_github_fetch_gets_the_file_where_reachable_and_names_it_where_not(tmp_path, monkeypatch, capsys):
    import io as _io
    import urllib.request

    from skyt1 import cli  # noqa: F401  (registers the commands)
    from skyt1.workflow.recipe import _artifacts

    body = (FXA / "util_prompts.py").read_bytes()
    art = texts.Artifact(name="fx-github", kind="github_file", repo="o/r", commit="c" * 40, version="c" * 12,
                         path="util/prompts.py", filename="fx-prompts.py", sha256=texts.sha256_text(body.decode()))
    from skyt1.core.registry import Registry

    reg = Registry("artifact")  # the registered artifacts plus this one, for this test only
    for n in texts.ARTIFACTS:
        reg.add(n, texts.ARTIFACTS[n])
    reg.add(art.name, art)
    monkeypatch.setattr(texts, "ARTIFACTS", reg)
    monkeypatch.setenv("SKYT1_ARTIFACT_DIR", str(tmp_path))
    import argparse

    def unreachable(url, timeout=None):
        raise OSError("Name or service not known")
    monkeypatch.setattr(urllib.request, "urlopen", unreachable)
    ns = argparse.Namespace(action="fetch", names=[art.name], optional_github=True)
    assert _artifacts(ns) == 0 and not (tmp_path / art.filename).exists()
    assert "fx-github: not fetched" in capsys.readouterr().out
    with pytest.raises(SkyT1Error, match="cannot download"):
        _artifacts(argparse.Namespace(action="fetch", names=[art.name], optional_github=False))
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=None: _io.BytesIO(body))
    assert _artifacts(ns) == 0 and (tmp_path / art.filename).read_bytes() == body
