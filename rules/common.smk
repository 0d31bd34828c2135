# Helpers shared by every rule: the resolved and validated config, resources, input functions.
import sys
from pathlib import Path

from skyt1 import config as skyt1_config
from skyt1.errors import SkyT1Error

REPO = Path(workflow.basedir)

try:
    _resolved = skyt1_config.resolve(config, REPO / "config")
    skyt1_config.validate(_resolved, REPO / "config" / "schema.yaml")
except SkyT1Error as _e:
    # One line naming the key and the fix, before any job starts.
    print(f"skyt1 config error: {_e}", file=sys.stderr)
    sys.exit(1)
config.clear()
config.update(_resolved)

MODELS = config["models"]
LOCAL_MODELS = [m for m, spec in MODELS.items() if spec["source"] != "api"]
SOURCES = config["sample"]["sources"]
BENCHMARKS = config["eval"]["benchmarks"]
EVAL_MODELS = list(config["eval"]["models"])
STUDENT_RUN = config["train"]["name"]
SFT_NAME = config["mix"]["dataset_name"]


def _alt(names):
    return "|".join(sorted(names)) or "__none__"


wildcard_constraints:
    model=_alt(LOCAL_MODELS),
    source=_alt(config["train_sources"]),
    bench=_alt(config["benchmarks"]),
    label=_alt(EVAL_MODELS),
    run=_alt([STUDENT_RUN]),


# Conda environments per kind of rule (used with --sdm conda on clusters; conda cannot be had on the
# development machines, where every rule runs in the .venv that `make install` builds).
ENV_PIPELINE = "../envs/pipeline.yaml"
ENV_TRAIN = "../envs/train.yaml"


def gen_env(stage):
    return "../envs/vllm.yaml" if config[stage]["backend"]["name"] == "vllm" else ENV_PIPELINE


def res(stage, key):
    """A rule's resource from config.resources.<stage>, falling back to config.resources.default."""
    table = config["resources"]
    return table.get(stage, {}).get(key, table["default"].get(key))


def model_dir(name):
    """Input files for a model: its prepared folder, or nothing for an api model."""
    return [] if MODELS[name]["source"] == "api" else [f"results/models/{name}"]


def eval_model_input(wildcards):
    spec = config["eval"]["models"][wildcards.label]
    if spec.get("checkpoint"):
        return f"results/checkpoints/{STUDENT_RUN}"
    return f"results/models/{spec['model']}"


def eval_model_spec(label):
    spec = config["eval"]["models"][label]
    return MODELS[config["train"]["student"] if spec.get("checkpoint") else spec["model"]]


def domain_prompt(stage_cfg, domain):
    """The prompt name a stage uses for one domain: domain_prompts[domain], else its prompt."""
    return (stage_cfg.get("domain_prompts") or {}).get(domain, stage_cfg["prompt"])


def eval_prompt(label, bench):
    return domain_prompt(config["eval"]["models"][label], config["benchmarks"][bench].get("domain", "math"))


def source_prompt(stage, source):
    return config["prompts"][domain_prompt(config[stage], config["train_sources"][source].get("domain", "math"))]


def source_scorer(source):
    """A training source's declared scorer: its `scorer`, else its adapter's record format's."""
    from skyt1.benchmarks import ADAPTER_SCORERS

    spec = config["train_sources"][source]
    return spec.get("scorer") or ADAPTER_SCORERS.get(spec["adapter"])
