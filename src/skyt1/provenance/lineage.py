"""How a result was made, read back from the lineage records the pipeline wrote (skyt1.provenance).

trace() walks from one output up to the raw data: each job (rule, wildcards, preset, config-values hash,
code commit, package versions, model identities) and each file (the sha256 its producer recorded, the
sha256 each consumer saw, the sha256 now). What was recorded is the truth drawn; the current config is
only consulted to flag outputs made under another preset or other config values, through Snakemake's
public command line (current_state())."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

from ..config import DEFAULT_PRESET, deep_merge, load_yaml
from ..core.errors import SkyT1Error
from ..core.io import read_json, sha256_file, stable_hash
from . import describe_input, sidecar

REPO = Path(__file__).resolve().parents[3]



# Outputs Snakemake deletes once their consumers are done (temp() in rules/): their absence is no mark.
# None today (the engine manifests stay: the cost ledger counts their loads).
TEMPORARY: tuple = ()
# `snakemake --summary` statuses that flag a job besides "params changed". It reports one status per output,
# the first of: updated input files, rule implementation changed, set of input files changed, params changed.
# "updated input files" is not a mark (it is mtimes; content changes are flagged from the recorded sha256s),
# but it hides a params change behind it.
_SUMMARY_MARKS = ("rule implementation changed", "set of input files changed")

def _record(root: Path, path: str) -> dict | None:
    side = sidecar(root / path)
    return read_json(side) if side.exists() else None


def _ident(desc: dict) -> str | None:
    """What identifies a file or folder in a record: its sha256, or a model's weights hash."""
    if desc.get("sha256"):
        return desc["sha256"]
    model = desc.get("model") or {}
    # a GGUF's file hash, else the weights' hash; a manifest with neither (a hub snapshot, an older
    # checkpoint) is identified by the manifest's own hash
    return model.get("sha256") or model.get("weights_sha256") or (stable_hash(model) if model else None)


def _now(root: Path, path: str) -> tuple[str | None, bool]:
    p = root / path
    if not p.exists():
        return None, False
    return _ident(describe_input(p)), True


def _snakemake(args: list[str], root: Path, snakefile: Path, configfiles: list[str]) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(snakefile), "--directory", str(root), "--nolock",
           "--cores", "1", *args]
    if configfiles:
        cmd += ["--configfile", *configfiles]
    return subprocess.Popen(cmd, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _failure(proc: subprocess.Popen, err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    named = [line for line in lines if line.startswith("skyt1") and "error" in line] or \
            [line for line in lines if "Error" in line or "error" in line] or lines[-1:]
    return f"snakemake exited {proc.returncode}: {named[0][:300] if named else 'no message'}"


def current_state(root: str | Path = ".", target: str = "results/table_main.csv", configfiles=(), config=None,
                  snakefile: str | Path | None = None) -> dict:
    """The current config's view, from Snakemake's public command line (nothing runs): the preset, every
    output the target needs with its rule and status (`--summary`: "params changed" when the job's params
    differ from those Snakemake recorded in .snakemake/metadata when the output was made), and the rule graph
    as DOT (`--rulegraph`); https://snakemake.readthedocs.io/en/stable/executing/cli.html.
    `--list-changes params` is not used: in Snakemake 9.27.1 it prints every output that has recorded params,
    changed or not (persistence/__init__.py: ParamsChange.__or__ returns an empty change that still carries
    its file, and __iter__ yields the files whatever the change; --summary tests it as a bool, which is right).
    `config` (a resolved config dict, as a rule receives it) is passed as a configfile."""
    import tempfile

    root = Path(root).resolve()
    snakefile = Path(snakefile or REPO / "Snakefile").resolve()
    files = [str(Path(p).resolve()) for p in configfiles]
    with tempfile.TemporaryDirectory(prefix="skyt1-current-") as tmp:
        if config is not None:
            import yaml

            path = Path(tmp) / "config.yaml"  # YAML, not JSON text: PyYAML reads JSON's 1e-05 as a string
            path.write_text(yaml.safe_dump(json.loads(json.dumps(dict(config), default=str))))
            files.append(str(path))
        procs = {name: _snakemake([*args, target], root, snakefile, files) for name, args in
                 (("summary", ["--summary"]), ("rules", ["--rulegraph", "--forceall"]))}  # both at once
        out = {name: proc.communicate() for name, proc in procs.items()}
        user = {}
        for f in files:  # the preset as the Snakefile resolves it (skyt1.config.resolve)
            user = deep_merge(user, load_yaml(Path(f)) or {})
    for name, proc in procs.items():
        if proc.returncode != 0:
            return {"preset": None, "outputs": {}, "error": _failure(proc, out[name][1])}
    outputs = {}
    for line in out["summary"][0].splitlines()[1:]:  # output_file, date, rule, log-file(s), status, plan
        cols = line.split("\t")
        if len(cols) >= 5:
            outputs[cols[0]] = {"rule": cols[2], "status": cols[4]}
    dot = out["rules"][0]
    return {"preset": user.get("preset", DEFAULT_PRESET), "outputs": outputs, "error": None,
            "rule_dot": dot[dot.find("digraph"):]}


def trace(target: str, root: str | Path = ".", current: dict | None = None, only_inputs=None) -> dict:
    """The lineage graph of `target`: {"target", "files": {path: node}, "jobs": {id: node}, "edges"}.
    only_inputs limits the target's own job to those inputs (one table cell)."""
    root = Path(root)
    if not (root / target).exists():
        raise SkyT1Error(f"{target} does not exist under {root.resolve()}", "give a path inside results/, or run -d DIR")
    if _record(root, target) is None:
        raise SkyT1Error(f"{target} has no lineage record ({sidecar(target).name})",
                         "it was made before lineage was recorded, or not by the pipeline: rerun its rule "
                         "(snakemake --forcerun RULE)")
    files: dict[str, dict] = {}
    jobs: dict[str, dict] = {}
    edges: list[tuple[str, str]] = []
    seen_used: dict[str, set] = {}
    todo = [target]
    while todo:
        path = todo.pop(0)
        if path in files:
            continue
        now, exists = _now(root, path)
        rec = _record(root, path)
        node = {"kind": "file", "path": path, "exists": exists, "sha256_now": now, "job": None, "marks": []}
        files[path] = node
        if not exists and path.startswith(TEMPORARY):
            node["temporary"] = True  # gone by design once its consumers finished; its lineage record stays
        elif not exists:
            node["marks"].append("missing")
        if rec is None:
            node["marks"].append("no lineage record")
            continue
        made = next((o for o in rec.get("outputs", []) if o.get("path") == path), {})
        node["sha256_made"] = _ident(made)
        if exists and node["sha256_made"] and now != node["sha256_made"]:
            node["marks"].append("changed since it was made")
        jid = f"{rec['rule']}:{rec['outputs'][0]['path']}" if rec.get("outputs") else f"{rec['rule']}:{path}"
        node["job"] = jid
        edges.append((jid, path))
        if jid in jobs:
            continue
        job = {"kind": "job", "id": jid, "rule": rec["rule"], "wildcards": rec.get("wildcards", {}),
               "preset": rec.get("preset"), "config_hash": rec.get("config_hash"), "config": rec.get("config"),
               "git": rec.get("git", {}), "created": rec.get("created"), "packages": rec.get("packages", {}),
               "skyt1": rec.get("skyt1"), "host": rec.get("host"), "outputs": [o["path"] for o in rec.get("outputs", [])],
               "inputs": [], "models": [], "sources": rec.get("sources", []), "marks": []}
        jobs[jid] = job
        if current is not None:
            _flag_config(job, current)
        inputs = rec.get("inputs", [])
        if only_inputs is not None and path == target:
            inputs = [i for i in inputs if i.get("path") in only_inputs]
        for inp in inputs:
            ipath = inp["path"]
            if not ipath:
                continue
            job["inputs"].append(ipath)
            if inp.get("model"):
                job["models"].append({"path": ipath, **{k: inp["model"][k] for k in inp["model"]
                                                        if k in ("name", "source", "sha256", "revision", "commit",
                                                                 "repo", "package", "version", "file", "parameters")}})
            seen_used.setdefault(ipath, set()).add(_ident(inp))
            edges.append((ipath, jid))
            todo.append(ipath)
        for k, src in enumerate(job["sources"]):
            sid = f"source:{jid}:{k}"
            snode = {"kind": "source", "path": src.get("path") or src.get("url") or src.get("repo") or src.get("generator"),
                     "info": src, "marks": []}
            if src.get("path") and Path(src["path"]).is_file() and src.get("sha256"):
                snode["sha256_now"] = sha256_file(src["path"])
                if snode["sha256_now"] != src["sha256"]:
                    snode["marks"].append("changed since it was read")
            elif src.get("path"):
                snode["marks"].append("missing")
            files[sid] = snode
            edges.append((sid, jid))
    for path, used in seen_used.items():
        node = files.get(path)
        if node and node.get("exists") and any(u and u != node["sha256_now"] for u in used) \
                and "changed since it was made" not in node["marks"]:
            node["marks"].append("changed since it was used")
    return {"target": target, "files": files, "jobs": jobs, "edges": edges,
            "current": None if current is None else {"preset": current.get("preset"), "error": current.get("error")}}


def _flag_config(job: dict, current: dict) -> None:
    if current.get("error"):
        job["marks"].append(f"current config not checked: {current['error']}")
        return
    if current.get("preset") and job.get("preset") != current["preset"]:
        job["marks"].append(f"made under preset {job.get('preset')!r}, current is {current['preset']!r}")
    first = job["outputs"][0] if job["outputs"] else None
    now = current["outputs"].get(first) if first else None
    if now is None:
        job["marks"].append("the current config does not make this output")
        return
    if now.get("status") == "params changed":
        job["marks"].append(f"config values changed since it was made with {job.get('config_hash')} "
                            "(snakemake --summary: params changed)")
    elif now.get("status") in _SUMMARY_MARKS:
        job["marks"].append(f"{now['status']} (snakemake --summary)")


def cell_inputs(root: str | Path, table: str, cell: str) -> list[str]:
    """The summary file behind one cell of the main table, `BENCHMARK,MODEL` (model label or column name)."""
    root = Path(root)
    try:
        bench, model = [s.strip() for s in cell.split(",", 1)]
    except ValueError:
        raise SkyT1Error(f"--cell {cell!r} is not BENCHMARK,MODEL", "e.g. --cell gsm8k,base")
    rec = _record(root, table) or {}
    with open(root / table, newline="") as f:
        header = next(csv.reader(f))
    hits = []
    for inp in rec.get("inputs", []):
        p = root / inp["path"]
        if not p.name.endswith(".summary.json") or not p.exists():
            continue
        s = read_json(p)
        if s.get("benchmark") == bench and model in (s.get("model"), s.get("model_display"),
                                                     f"ours: {s.get('model_display')}"):
            hits.append(inp["path"])
    if not hits:
        models = [h for h in header if h.startswith("ours: ")]
        raise SkyT1Error(f"no cell {bench},{model} among the table's recorded inputs",
                         f"use a benchmark row of {table} and a model label or one of {models}")
    return hits


def row_lineage(root: str | Path, sft_path: str, n: int) -> dict:
    """Row n of the SFT set traced through reject, rewrite and sample to its source dataset row."""
    root = Path(root)
    rows_path = str(Path(sft_path).with_suffix("")) + ".rows.jsonl"
    if not (root / rows_path).exists():
        raise SkyT1Error(f"{rows_path} (the SFT set's row lineage) does not exist", "rerun the mix rule")
    lines = (root / rows_path).read_text().splitlines()
    if not 0 <= n < len(lines):
        raise SkyT1Error(f"--row {n} is out of range: the SFT set has {len(lines)} rows", f"use 0..{len(lines) - 1}")
    row = json.loads(lines[n])
    sft = json.loads((root / sft_path).read_text())
    out = {"row": n, "question": sft[n]["conversations"][0]["value"] if n < len(sft) else None, **row}
    data = f"results/data/train/{row['source']}.jsonl"
    rec = _record(root, data) or {}
    out["source_dataset"] = {"source": row["source"], "record_id": row["record_id"], "origin": row.get("origin"),
                             "file": data, "raw": rec.get("sources", []), "config": rec.get("config")}
    if rec:
        cfg = rec.get("config") or {}
        opts = ((cfg.get("spec") or {}).get("options") or {})
        out["source_dataset"]["revision"] = opts.get("revision")
    return out


# ---------------------------------------------------------------- renderings

def _short(h) -> str:
    return (h or "?")[:12]


def _code(git: dict) -> str:
    c = (git or {}).get("commit")
    return f"{c[:10]}{' +dirty' if git.get('dirty') else ''}" if c else "unknown"


def to_text(g: dict) -> str:
    lines = [f"lineage of {g['target']}"]
    if g.get("current") and g["current"].get("preset"):
        lines.append(f"(checked against the current config: preset {g['current']['preset']})")
    for job in g["jobs"].values():
        lines.append("")
        wc = ", ".join(f"{k}={v}" for k, v in job["wildcards"].items())
        lines.append(f"rule {job['rule']}{f' ({wc})' if wc else ''}: made {', '.join(job['outputs'])}")
        lines.append(f"  preset {job['preset']}  config values {job['config_hash']}  code {_code(job['git'])}"
                     f"  skyt1 {job.get('skyt1')}  at {job['created']} on {job.get('host')}")
        for m in job["marks"]:
            lines.append(f"  !! {m}")
        lines.append(f"  config values: {json.dumps(job['config'], sort_keys=True)[:600]}")
        if job["packages"]:
            lines.append("  packages: " + ", ".join(f"{k} {v}" for k, v in sorted(job["packages"].items())))
        for m in job["models"]:
            lines.append(f"  model {m['path']}: " + ", ".join(f"{k}={v}" for k, v in m.items() if k != "path"))
        for out in job["outputs"]:
            f = g["files"].get(out)
            if f:
                lines.append(f"  out {out}  sha256 {_short(f.get('sha256_made'))}" + "".join(f"  !! {m}" for m in f["marks"]))
        for inp in job["inputs"]:
            f = g["files"].get(inp, {})
            lines.append(f"  in  {inp}  sha256 {_short(f.get('sha256_now'))}" + "".join(f"  !! {m}" for m in f.get("marks", [])))
        for src in job["sources"]:
            info = ", ".join(f"{k}={v}" for k, v in src.items() if k not in ("kind",) and v is not None)
            lines.append(f"  raw {src.get('kind')}: {info}")
    return "\n".join(lines) + "\n"


def _esc(s: str) -> str:
    return str(s).replace("\\", "\\\\").replace('"', '\\"')


def to_dot(g: dict) -> str:
    out = ["digraph lineage {", '  rankdir=BT; node [fontname="Helvetica", fontsize=10];',
           f'  labelloc=t; label="{_esc("lineage of " + g["target"])}";']
    ids = {}

    def nid(key):
        return ids.setdefault(key, f"n{len(ids)}")

    for jid, job in g["jobs"].items():
        wc = ",".join(f"{v}" for v in job["wildcards"].values())
        label = [f"rule {job['rule']}" + (f" [{wc}]" if wc else ""), f"preset {job['preset']}",
                 f"config {job['config_hash']}", f"code {_code(job['git'])}"] + [f"!! {m}" for m in job["marks"]]
        color = ', style=filled, fillcolor="#f4a582"' if job["marks"] else ', style=filled, fillcolor="#d1e5f0"'
        out.append(f'  {nid(jid)} [shape=box{color}, label="{_esc(chr(10).join(label))}"];')
    for key, f in g["files"].items():
        if f["kind"] == "source":
            info = f["info"]
            label = [f"raw {info.get('kind')}: {Path(str(f['path'])).name}"]
            label += [f"{k} {info[k]}" for k in ("package", "version", "repo", "revision", "resolved_commit", "generator")
                      if info.get(k)]
            if info.get("sha256"):
                label.append(f"sha256 {_short(info['sha256'])}")
        else:
            label = [f["path"], f"sha256 {_short(f.get('sha256_made') or f.get('sha256_now'))}"]
        label += [f"!! {m}" for m in f["marks"]]
        color = ', style=filled, fillcolor="#ca0020", fontcolor=white' if f["marks"] else ""
        shape = "cylinder" if f["kind"] == "source" else "note"
        out.append(f'  {nid(key)} [shape={shape}{color}, label="{_esc(chr(10).join(label))}"];')
    for a, b in dict.fromkeys(g["edges"]):
        if a in ids and b in ids:
            out.append(f"  {ids[a]} -> {ids[b]};")
    out.append("}")
    return "\n".join(out) + "\n"


def dot_to_svg(dot: str, svg_path: str | Path) -> None:
    """Render DOT with graphviz's `dot` (Debian package graphviz, in requirements/apt.txt)."""
    from ..core.io import atomic_path

    if "->" not in dot and "[" not in dot:
        raise SkyT1Error(f"no graph to draw into {svg_path}", "report this as a bug: the DOT text was empty")
    exe = shutil.which("dot")
    if not exe:
        raise SkyT1Error("graphviz's `dot` is not installed", "run `make install` (apt-get install graphviz)")
    with atomic_path(svg_path, suffix=".svg") as tmp:
        proc = subprocess.run([exe, "-Tsvg", "-o", str(tmp)], input=dot, text=True, capture_output=True)
        if proc.returncode != 0:
            raise SkyT1Error(f"dot failed: {proc.stderr.strip()[:300]}", "report this graph's DOT as a bug")
