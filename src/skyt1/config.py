"""Presets: load one, merge user overrides on top, validate against config/schema.yaml.

Snakemake's own `configfile:` directive deep-merges every --configfile into the default,
so keys of the tiny preset would leak into a run of the 32B preset. Instead the Snakefile
reads `preset` (default: tiny), loads config/<preset>.yaml as the base and merges what the
user gave (--configfile/--config) on top. Mappings merge key by key; lists are replaced.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from .benchmarks import declare_all, expand
from .core.errors import SkyT1Error

DEFAULT_PRESET = "tiny"


def deep_merge(base: dict, override: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SkyT1Error(f"config file {path} not found", "check the path given to --configfile")
    except yaml.YAMLError as e:
        raise SkyT1Error(f"config file {path} is not valid YAML: {str(e).splitlines()[0]}", "fix the YAML syntax")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SkyT1Error(f"config file {path} must hold a mapping at the top level", "fix the file")
    return data


def resolve(user_config: dict, config_dir: Path) -> dict:
    """Return the preset named by user_config['preset'] with user_config merged on top; `benchmarks:` names expanded
    into their declarations (config/benchmarks/<name>.yaml)."""
    preset = user_config.get("preset", DEFAULT_PRESET)
    path = Path(config_dir) / f"{preset}.yaml"
    if not isinstance(preset, str) or not path.exists():
        known = sorted(p.stem for p in Path(config_dir).glob("*.yaml") if p.stem != "schema")
        raise SkyT1Error(f"config key 'preset': unknown preset {preset!r}", f"use one of {known}")
    base = load_yaml(path)
    user = dict(user_config)
    # Benchmarks are files (config/benchmarks/, skyt1.benchmarks): the preset's list or mapping becomes the full
    # mapping, then the user's (a list replaces it, a mapping overrides or adds entries).
    folder = Path(config_dir) / "benchmarks"
    base["benchmarks"] = expand(base.get("benchmarks"), folder=folder)
    if "benchmarks" in user:
        user["benchmarks"] = expand(user["benchmarks"], base["benchmarks"], folder=folder)
        base.pop("benchmarks")
    return deep_merge(base, user)


def _resolve_ref(node: dict, root: dict) -> dict:
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        if not ref.startswith("#/"):
            raise SkyT1Error(f"schema reference {ref!r} is not local", "keep every $ref inside config/schema.yaml")
        target = root
        for part in ref[2:].split("/"):
            target = target[part]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def fill_defaults(instance: Any, schema: dict, root: dict | None = None) -> None:
    """Set every `default:` of the schema on a validated config, in place (the one place defaults live).

    Follows properties, $ref, additionalProperties (maps such as benchmarks) and items; under oneOf/anyOf
    only into the one branch that is an object schema, for a mapping (an "off, or these settings" choice);
    a default under if/then, or among several object branches, is never applied."""
    root = schema if root is None else root
    schema = _resolve_ref(schema, root)
    if not isinstance(schema, dict):
        return
    if isinstance(instance, dict):
        props = schema.get("properties", {})
        for key, sub in props.items():
            sub = _resolve_ref(sub, root)
            if key not in instance and isinstance(sub, dict) and "default" in sub:
                instance[key] = copy.deepcopy(sub["default"])
            if key in instance:
                fill_defaults(instance[key], sub, root)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for key, value in instance.items():
                if key not in props:
                    fill_defaults(value, extra, root)
        # an "off, or these settings" choice (decontam): the one object branch is the settings' schema
        for key in ("anyOf", "oneOf"):
            objects = [b for b in (_resolve_ref(b, root) for b in schema.get(key, [])) if b.get("type") == "object"]
            if len(objects) == 1:
                fill_defaults(instance, objects[0], root)
    elif isinstance(instance, list) and isinstance(schema.get("items"), dict):
        for item in instance:
            fill_defaults(item, schema["items"], root)


def _key_path(error: jsonschema.ValidationError) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "<top level>"


def validate(config: dict, schema_path: Path) -> None:
    """Raise SkyT1Error with one line naming the first offending key."""
    schema = load_yaml(schema_path)
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: (len(list(e.absolute_path)), _key_path(e)))
    if not errors:
        fill_defaults(config, schema)
        _check_references(config)
        return
    err = jsonschema.exceptions.best_match(errors)
    key = _key_path(err)
    if err.validator == "additionalProperties":
        allowed = sorted(err.schema.get("properties", {}))
        extra = sorted(set(err.instance) - set(allowed))
        where = f"{key}." if key != "<top level>" else ""
        raise SkyT1Error(f"config key '{where}{extra[0]}' is not known", f"remove it or use one of {allowed}")
    if err.validator == "required":
        raise SkyT1Error(f"config key '{key}': {err.message}", "add the key (see config/tiny.yaml for an example)")
    raise SkyT1Error(f"config key '{key}': {err.message}", "fix the value in your config file or --config override")


def _check_references(config: dict) -> None:
    """Cross-references the schema cannot express: names must point at defined entries."""
    models = config["models"]
    for stage in ("sample", "rewrite"):
        name = config[stage]["model"]
        if name not in models:
            raise SkyT1Error(f"config key '{stage}.model': model {name!r} is not defined under 'models'",
                             f"use one of {sorted(models)}")
    if config["train"]["student"] not in models:
        raise SkyT1Error(f"config key 'train.student': model {config['train']['student']!r} is not defined under 'models'",
                         f"use one of {sorted(models)}")
    for src in config["sample"]["sources"]:
        if src not in config["train_sources"]:
            raise SkyT1Error(f"config key 'sample.sources': source {src!r} is not defined under 'train_sources'",
                             f"use one of {sorted(config['train_sources'])}")
    for bench in config["eval"]["benchmarks"]:
        if bench not in config["benchmarks"]:
            raise SkyT1Error(f"config key 'eval.benchmarks': benchmark {bench!r} is not defined under 'benchmarks'",
                             f"use one of {sorted(config['benchmarks'])}")
    for label, spec in config["eval"]["models"].items():
        if "model" in spec and spec["model"] not in models:
            raise SkyT1Error(f"config key 'eval.models.{label}.model': model {spec['model']!r} is not defined under 'models'",
                             f"use one of {sorted(models)}")
        if spec["prompt"] not in config["prompts"]:
            raise SkyT1Error(f"config key 'eval.models.{label}.prompt': prompt {spec['prompt']!r} is not defined under 'prompts'",
                             f"use one of {sorted(config['prompts'])}")
    for i, pair in enumerate((config.get("table") or {}).get("gains") or []):
        for side in ("student", "base"):
            if pair[side] not in config["eval"]["models"]:
                raise SkyT1Error(f"config key 'table.gains.{i}.{side}': {pair[side]!r} is not a model of eval.models",
                                 f"use one of {sorted(config['eval']['models'])}")
    from .published.texts import ARTIFACTS  # text references must name a registered artifact (src/skyt1/published/texts.py)

    def refs(node, where):
        if isinstance(node, dict):
            if "artifact" in node and isinstance(node["artifact"], str):
                yield where, node["artifact"]
            for k, v in node.items():
                yield from refs(v, f"{where}.{k}" if where else str(k))

    for where, name in refs(config, ""):
        if where != "artifacts" and not where.startswith("artifacts.") and name not in ARTIFACTS:
            raise SkyT1Error(f"config key '{where}': unknown artifact {name!r}", f"use one of {sorted(ARTIFACTS)}")
    for name in config.get("artifacts") or {}:
        if name not in ARTIFACTS:
            raise SkyT1Error(f"config key 'artifacts.{name}': unknown artifact {name!r}", f"use one of {sorted(ARTIFACTS)}")
    for where, names in [(f"{stage}.domain_prompts", config[stage].get("domain_prompts") or {})
                         for stage in ("sample", "rewrite")] + \
            [(f"eval.models.{label}.domain_prompts", spec.get("domain_prompts") or {})
             for label, spec in config["eval"]["models"].items()]:
        for domain, prompt in names.items():
            if prompt not in config["prompts"]:
                raise SkyT1Error(f"config key '{where}.{domain}': prompt {prompt!r} is not defined under 'prompts'",
                                 f"use one of {sorted(config['prompts'])}")
    declare_all(config)  # every benchmark declaration is complete (scorer, metric) before any job runs
    for stage in ("sample", "rewrite"):
        if config[stage]["prompt"] not in config["prompts"]:
            raise SkyT1Error(f"config key '{stage}.prompt': prompt {config[stage]['prompt']!r} is not defined under 'prompts'",
                             f"use one of {sorted(config['prompts'])}")


def resource(config: dict, section: str, key: str) -> Any:
    """A rule's resource from config.resources.<section>, falling back to config.resources.default."""
    table = config["resources"]
    return table.get(section, {}).get(key, table["default"].get(key))
