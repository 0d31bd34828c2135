import pytest

from skyt1 import config
from skyt1.core.errors import SkyT1Error

SCHEMA = "config/schema.yaml"


def resolved(repo, user):
    cfg = config.resolve(user, repo / "config")
    config.validate(cfg, repo / SCHEMA)
    return cfg


@pytest.mark.parametrize("preset", ["tiny", "sky-t1-32b"])
def test_presets_validate(repo, preset):
    cfg = resolved(repo, {"preset": preset})
    assert cfg["preset"] == preset


def test_default_preset_is_tiny(repo):
    assert resolved(repo, {})["preset"] == "tiny"


def test_32b_preset_is_the_papers_recipe(repo):
    cfg = resolved(repo, {"preset": "sky-t1-32b"})
    assert cfg["models"][cfg["sample"]["model"]]["repo"] == "Qwen/QwQ-32B-Preview"
    assert cfg["sample"]["backend"]["name"] == "vllm"
    assert cfg["models"][cfg["rewrite"]["model"]]["api_model"] == "gpt-4o-mini"
    assert cfg["rewrite"]["backend"]["name"] == "openai"
    assert cfg["models"][cfg["train"]["student"]]["repo"] == "Qwen/Qwen2.5-32B-Instruct"
    args = cfg["train"]["args"]
    assert (args["learning_rate"], args["num_train_epochs"], args["cutoff_len"]) == (1e-5, 3, 16384)
    assert args["per_device_train_batch_size"] * args["gradient_accumulation_steps"] * cfg["train"]["nproc_per_node"] == 96
    assert cfg["resources"]["train"]["gpu"] == 8
    # no preset leaks into the other: the 32B run knows nothing of the tiny arithmetic source
    assert "arith" not in cfg["train_sources"]


def test_overrides_merge_and_lists_replace(repo):
    cfg = resolved(repo, {"sample": {"params": {"max_new_tokens": 7}}, "eval": {"benchmarks": ["gsm8k"]}})
    assert cfg["sample"]["params"]["max_new_tokens"] == 7
    assert cfg["sample"]["params"]["n"] == 1  # sibling keys kept
    assert cfg["eval"]["benchmarks"] == ["gsm8k"]


@pytest.mark.parametrize("user, key", [
    ({"bogus": 1}, "'bogus' is not known"),
    ({"sample": {"params": {"max_new_tokens": "many"}}}, "sample.params.max_new_tokens"),
    ({"sample": {"backend": {"name": "llamacpp"}}}, "sample.backend.name"),
    ({"preset": "nope"}, "unknown preset 'nope'"),
    ({"sample": {"model": "gpt-5"}}, "sample.model"),
    ({"eval": {"benchmarks": ["aime99"]}}, "eval.benchmarks"),
])
def test_bad_config_one_line_naming_the_key(repo, user, key):
    with pytest.raises(SkyT1Error) as exc:
        resolved(repo, user)
    msg = str(exc.value)
    assert key in msg
    assert "\n" not in msg
    assert "fix:" in msg


def test_32b_eval_models_get_verdicts_against_their_paper_column(repo):
    """Every 32B eval model names the paper's column it is judged against, and every benchmark of the
    preset has a reported number there, so each of its cells gets a verdict."""
    from skyt1.published.paper import reported

    cfg = resolved(repo, {"preset": "sky-t1-32b"})
    assert {m: e.get("paper_model") for m, e in cfg["eval"]["models"].items()} == {
        "base": "Qwen2.5-32B-Instruct", "teacher": "QwQ-32B-Preview", "sky-t1": "Sky-T1-32B-Preview",
        "sky-t1-published": "Sky-T1-32B-Preview"}
    for label, entry in cfg["eval"]["models"].items():
        for bench in cfg["eval"]["benchmarks"]:
            assert reported(cfg["benchmarks"][bench].get("paper_name"), entry["paper_model"]) is not None, (label, bench)


def test_schema_defaults_are_filled_by_validation_and_never_from_a_branch():
    from skyt1.config import fill_defaults

    schema = {
        "$defs": {"b": {"type": "object", "properties": {"n": {"type": "integer", "default": 1}}}},
        "type": "object",
        "properties": {
            "sample": {"type": "object", "properties": {"shards": {"type": "integer", "default": 1},
                                                       "seed": {"type": "integer"}}},
            "benchmarks": {"type": "object", "additionalProperties": {"$ref": "#/$defs/b"}},
            # two object branches: which one holds is the validator's business, so neither default is applied
            "x": {"oneOf": [{"type": "object", "properties": {"y": {"default": 3}}},
                            {"type": "object", "properties": {"z": {"default": 4}}}]},
            # "off, or these settings": the one object branch is the settings' schema
            "d": {"anyOf": [{"enum": [False, "off"]}, {"$ref": "#/$defs/b"}]},
        },
    }
    cfg = {"sample": {"shards": 4}, "benchmarks": {"a": {}, "c": {"n": 2}}, "x": {}, "d": {}}
    fill_defaults(cfg, schema)
    assert cfg["sample"] == {"shards": 4}  # a given value stays
    assert cfg["benchmarks"] == {"a": {"n": 1}, "c": {"n": 2}}  # maps get their entries' defaults
    assert cfg["x"] == {}  # a default among several object branches is not applied
    assert cfg["d"] == {"n": 1}
    off = {"d": "off"}
    fill_defaults(off, schema)
    assert off["d"] == "off"  # the off branch is left as it is
    cfg2 = {"sample": {}, "benchmarks": {}}
    fill_defaults(cfg2, schema)
    assert cfg2["sample"] == {"shards": 1}
