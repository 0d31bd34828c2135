"""Regroup src/skyt1 into the folders of docs/architecture.md ("Wings"), re-runnable on any tree.

    python tools/wings.py            # git mv the modules of MOVES, rewrite every reference to them
    python tools/wings.py --check    # say what it would change, change nothing (exit 1 if anything)

It works from module names, never from line numbers, so it can run after other branches changed the
bodies of the same files: every `from`/`import` statement naming a moved module (absolute or relative,
function-level ones too) is re-pointed, relative imports stay relative (re-expressed from the importer's
new place), and every dotted name (`skyt1.lock`, `python -m skyt1.train_launcher`, settings'
RULE_MODULES strings, monkeypatch targets) and path (`src/skyt1/texts.py`) in the repository's text
files follows. A moved file's `Path(__file__)....parents[N]` is adjusted to its new depth.
A second run changes nothing (an old name no longer appears, and a name that is already new is left).

Not rewritten: README.md (its own task rewrites it; pass --readme to include it), this file,
docs/architecture.md and tests/test_architecture.py (they name old and new places on purpose).
Standard library only.
"""

from __future__ import annotations

import argparse
import ast
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"

# old module -> new module. A new name under `tools.` leaves the package (a file of tools/).
MOVES: dict[str, str] = {
    # core: leaf utilities every layer may use
    "skyt1.errors": "skyt1.core.errors",
    "skyt1.io": "skyt1.core.io",
    "skyt1.records": "skyt1.core.records",
    "skyt1.formatting": "skyt1.core.formatting",
    "skyt1.registry": "skyt1.core.registry",
    # published: what the Sky-T1 authors published (the recipe's texts, their reported numbers)
    "skyt1.texts": "skyt1.published.texts",
    "skyt1.paper": "skyt1.published.paper",
    # provenance: written by every job, read back by `skyt1 provenance`
    "skyt1.provenance": "skyt1.provenance",  # provenance.py becomes provenance/__init__.py (same name)
    "skyt1.lineage": "skyt1.provenance.lineage",
    # data: decontamination works on records
    "skyt1.decontam": "skyt1.data.decontam",
    # generation: the chat messages of a request
    "skyt1.prompts": "skyt1.generation.prompts",
    # weights: model folders (prepare_model, the tiny Qwen2 stand-in)
    "skyt1.models": "skyt1.weights.prepare",
    "skyt1.tiny_qwen2": "skyt1.weights.tiny_qwen2",
    # stages: the per-rank entry point of the train stage
    "skyt1.train_launcher": "skyt1.stages.train_launcher",
    # workflow: around the stages (rule-script glue, login-node rules, pins, the recipe view, cost, smoke)
    "skyt1.runner": "skyt1.workflow.runner",
    "skyt1.cluster": "skyt1.workflow.cluster",
    "skyt1.lock": "skyt1.workflow.lock",
    "skyt1.recipe": "skyt1.workflow.recipe",
    "skyt1.cost": "skyt1.workflow.cost",
    "skyt1.smoke": "skyt1.workflow.smoke",
    # every source and benchmark of every preset (`skyt1 data list`): reads the presets and benchmark
    # declarations, so it sits above config (this module comes with the benchmarks-as-files branch)
    "skyt1.data.presets": "skyt1.workflow.presets",
    # cli: the command modules, beside the registry that imports them
    "skyt1.data.cli": "skyt1.cli.data",
    "skyt1.scoring.cli": "skyt1.cli.score",
    # out of the package: run by the Makefile before anything is installed
    "skyt1.envs": "tools.envs",
}
# Old modules that become packages of the same name (the module is the package's __init__.py).
AS_PACKAGE = {"skyt1.provenance"}

NEW_PACKAGES = {
    "skyt1.core": "Leaf utilities every layer may use: errors, atomic file writes, the record schema, the response "
                  "format, the name registry.",
    "skyt1.published": "What the Sky-T1 authors published: the recipe's texts (read from pinned artifacts) and "
                       "the numbers they report.",
    "skyt1.weights": "Model folders as pipeline outputs: prepare_model's sources and the tiny Qwen2 stand-in.",
    "skyt1.workflow": "Around the stages: the rule scripts' glue, login-node rules, hub pins, the effective "
                      "recipe, the cost ledger, the smoke run's stand-in server.",
}

SKIP = {"README.md", "tools/wings.py", "docs/architecture.md", "tests/test_architecture.py"}
TEXT_SUFFIXES = {".py", ".smk", ".md", ".toml", ".yaml", ".yml", ".sh", ".cfg", ".ini", ".txt"}
TEXT_NAMES = {"Snakefile", "Makefile"}
NEW_NAMES = sorted(set(MOVES.values()) | set(NEW_PACKAGES), key=len, reverse=True)
OLD_NAMES = sorted(MOVES, key=len, reverse=True)


# ---- names and paths -------------------------------------------------------------------------------

def is_new(name: str) -> bool:
    return any(name == n or name.startswith(n + ".") for n in NEW_NAMES)


def map_name(name: str) -> str:
    """The new dotted name of `name` (a module or something inside one); unchanged if not moved."""
    if is_new(name):
        return name
    for old in OLD_NAMES:
        if name == old or name.startswith(old + "."):
            return MOVES[old] + name[len(old):]
    return name


def module_path(name: str, package: bool) -> Path:
    """Repository-relative file of a module name (tools.x lives in tools/, skyt1.x under src/)."""
    parts = name.split(".")
    base = Path(*parts) if parts[0] == "tools" else Path("src", *parts)
    return base / "__init__.py" if package else base.with_suffix(".py")


def module_of(rel: Path) -> tuple[str, bool] | None:
    """(module name, is package) of a repository-relative .py file inside src/skyt1, else None."""
    if rel.suffix != ".py" or rel.parts[:2] != ("src", "skyt1"):
        return None
    parts = list(rel.with_suffix("").parts[1:])
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


def old_file(old: str) -> Path | None:
    for package in (False, True):
        p = module_path(old, package)
        if (REPO / p).is_file():
            return p
    return None


def new_file(old: str, was_package: bool) -> Path:
    return module_path(MOVES[old], was_package or old in AS_PACKAGE)


# ---- import statements -----------------------------------------------------------------------------

def relative(importer_pkg: str, target: str) -> str:
    ip, tp = importer_pkg.split("."), target.split(".")
    common = 0
    while common < min(len(ip), len(tp)) and ip[common] == tp[common]:
        common += 1
    return "." * (len(ip) - common + 1) + ".".join(tp[common:])


def resolve(level: int, module: str | None, importer_pkg: str | None) -> str:
    if not level:
        return module or ""
    base = importer_pkg.split(".")
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def _names(items: list[tuple[str, str | None]]) -> list[str]:
    return [f"{n} as {a}" if a else n for n, a in items]


def _statement(indent: str, mod: str, items: list[tuple[str, str | None]]) -> str:
    names = _names(items)
    line = f"{indent}from {mod} import {', '.join(names)}"
    if len(line) <= 120:
        return line
    body, cur = [], indent + "   "
    for n in names:
        if len(cur) + len(n) + 2 > 110:
            body.append(cur.rstrip())
            cur = indent + "   "
        cur += f" {n},"
    body.append(cur.rstrip())
    return f"{indent}from {mod} import (\n" + "\n".join(body) + f"\n{indent})"


def rewrite_from(level: int, module: str | None, names: list[tuple[str, str | None]], indent: str,
                 old_pkg: str | None, new_pkg: str | None) -> str | None:
    """The replacement of one `from ... import ...` statement, or None when nothing it names moved."""
    absmod = resolve(level, module, old_pkg)
    if not absmod.startswith("skyt1"):
        return None
    groups: dict[str, list[tuple[str, str | None]]] = {}
    for n, a in names:
        full = f"{absmod}.{n}"
        if n != "*" and full in MOVES:  # the name is a moved module
            parent, base = MOVES[full].rsplit(".", 1)
            groups.setdefault(parent, []).append((base, a or (n if base != n else None)))
        else:
            groups.setdefault(map_name(absmod), []).append((n, a))
    same_place = (resolve(level, module, new_pkg) == absmod) if level else True
    if list(groups) == [absmod] and same_place and groups[absmod] == list(names):
        return None
    # relative imports stay relative, re-expressed from the importer's new package
    out = [_statement(indent, relative(new_pkg, parent) if level and parent.startswith("skyt1") else parent, items)
           for parent, items in groups.items()]
    return "\n".join(out).lstrip(" \t")  # the first line takes the statement's place (its indent is there)


def rewrite_python_imports(src: str, old_pkg: str | None, new_pkg: str | None) -> str:
    """Every import statement of a parseable Python file (function-level ones too)."""
    try:
        tree = ast.parse(src)
    except SyntaxError:
        return rewrite_import_lines(src, old_pkg, new_pkg)
    lines = src.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    edits = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            indent = " " * node.col_offset
            new = rewrite_from(node.level, node.module, [(a.name, a.asname) for a in node.names], indent,
                               old_pkg, new_pkg)
        elif isinstance(node, ast.Import):
            mapped = [(map_name(a.name), a.asname) for a in node.names]
            if [m for m, _ in mapped] == [a.name for a in node.names]:
                continue
            new = "import " + ", ".join(_names(mapped))
        else:
            continue
        if new is None:
            continue
        start = offsets[node.lineno - 1] + node.col_offset
        end = offsets[node.end_lineno - 1] + node.end_col_offset
        edits.append((start, end, new))
    for start, end, new in sorted(edits, reverse=True):
        src = src[:start] + new + src[end:]
    return src


IMPORT_LINE = re.compile(r"^(?P<indent>[ \t]*)(?P<stmt>from[ \t]+\.*[\w.]*[ \t]+import[ \t]+[^\n#;()]+?|import[ \t]+skyt1[\w., \t]*?)"
                         r"(?P<tail>[ \t]*(?:#[^\n]*)?)$", re.M)


def rewrite_import_lines(text: str, old_pkg: str | None = None, new_pkg: str | None = None) -> str:
    """One-line import statements in files Python cannot parse as a whole (rules, Markdown)."""
    def one(m: re.Match) -> str:
        try:
            node = ast.parse(m["stmt"].strip()).body[0]
        except (SyntaxError, IndexError):
            return m[0]
        if isinstance(node, ast.ImportFrom):
            new = rewrite_from(node.level, node.module, [(a.name, a.asname) for a in node.names], m["indent"],
                               old_pkg, new_pkg)
        elif isinstance(node, ast.Import):
            mapped = [(map_name(a.name), a.asname) for a in node.names]
            new = None if [x for x, _ in mapped] == [a.name for a in node.names] else "import " + ", ".join(_names(mapped))
        else:
            return m[0]
        return m[0] if new is None else m["indent"] + new + m["tail"]
    return IMPORT_LINE.sub(one, text)


# ---- dotted names, paths, __file__ depth ---------------------------------------------------------------

DOTTED = re.compile(r"(?<![\w./-])skyt1(?:\.[A-Za-z_]\w*)+")
PATH = re.compile(r"(?<![\w.-])(?P<src>src/)?skyt1/(?P<rest>(?:\w+/)*\w+)\.py\b")
FILE_DEPTH = re.compile(r"(?P<base>Path\(__file__\)(?:\.resolve\(\))?)\.(?:parents\[(?P<n>\d+)\]|parent(?![\w\[]))")


def rewrite_names(text: str) -> str:
    text = DOTTED.sub(lambda m: map_name(m[0]), text)

    def path(m: re.Match) -> str:
        parts = m["rest"].split("/")
        package = parts[-1] == "__init__"
        name = ".".join(["skyt1", *(parts[:-1] if package else parts)])
        if name not in MOVES:
            return m[0]
        new = new_file(name, package)
        if new.parts[0] == "src" and not m["src"]:
            new = Path(*new.parts[1:])
        return new.as_posix()
    return PATH.sub(path, text)


def adjust_file_depth(text: str, delta: int) -> str:
    if not delta:
        return text

    def one(m: re.Match) -> str:
        n = int(m["n"]) if m["n"] is not None else 0
        return f"{m['base']}.parents[{n + delta}]"
    return FILE_DEPTH.sub(one, text)


# ---- the run ---------------------------------------------------------------------------------------

def tracked_text_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, check=True, capture_output=True).stdout
    files = []
    for name in out.decode().split("\0"):
        p = Path(name)
        if name and (p.suffix in TEXT_SUFFIXES or p.name in TEXT_NAMES) and (REPO / p).is_file():
            files.append(p)
    return files


def plan(include_readme: bool) -> tuple[dict[Path, str], list[tuple[Path, Path]]]:
    """(new text of each changed file, keyed by its current path; the git moves to make)."""
    moves = []
    where: dict[Path, tuple[str, str, bool, bool]] = {}  # current path -> (old module, new module, pkgs)
    for old in MOVES:
        f = old_file(old)
        if f is None:
            continue
        package = f.name == "__init__.py"
        to = new_file(old, package)
        if to != f:
            moves.append((f, to))
            where[f] = (old, MOVES[old], package, to.name == "__init__.py")
    changed = {}
    for rel in tracked_text_files():
        if rel.as_posix() in SKIP and not (include_readme and rel.as_posix() == "README.md"):
            continue
        text = (REPO / rel).read_text(encoding="utf-8")
        new = text
        mod = module_of(rel)
        if rel.suffix == ".py":
            if rel in where:
                old, newmod, was_pkg, is_pkg = where[rel]
                old_pkg = old if was_pkg else old.rpartition(".")[0]
                new_pkg = newmod if is_pkg else newmod.rpartition(".")[0]
            elif mod:
                old_pkg = new_pkg = mod[0] if mod[1] else mod[0].rpartition(".")[0]
            else:
                old_pkg = new_pkg = None
            new = rewrite_python_imports(new, old_pkg, new_pkg)
        else:
            new = rewrite_import_lines(new)
        new = rewrite_names(new)
        if rel in where:
            to = dict(moves)[rel]
            new = adjust_file_depth(new, len(to.parts) - len(rel.parts))
        if new != text:
            changed[rel] = new
    return changed, moves


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only say what would change")
    ap.add_argument("--readme", action="store_true", help="rewrite README.md too")
    args = ap.parse_args(argv)
    changed, moves = plan(args.readme)
    missing_pkgs = [p for p in NEW_PACKAGES if not (REPO / module_path(p, True)).exists()]
    if args.check:
        for f, to in moves:
            print(f"move {f} -> {to}")
        for p in missing_pkgs:
            print(f"create {module_path(p, True)}")
        for rel in sorted(changed):
            print(f"rewrite {rel}")
        return 1 if moves or changed or missing_pkgs else 0
    for rel, text in changed.items():
        (REPO / rel).write_text(text, encoding="utf-8")
    for p in missing_pkgs:
        init = REPO / module_path(p, True)
        init.parent.mkdir(parents=True, exist_ok=True)
        init.write_text(f'"""{NEW_PACKAGES[p]}"""\n', encoding="utf-8")
        subprocess.run(["git", "add", str(init)], cwd=REPO, check=True)
    for f, to in moves:
        (REPO / to).parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "mv", str(f), str(to)], cwd=REPO, check=True)
    print(f"wings: {len(moves)} modules moved, {len(missing_pkgs)} packages created, {len(changed)} files rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main())
