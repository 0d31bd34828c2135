"""Stage 7: the main table and one bar chart per benchmark.

Benchmarks as rows. Per model of this run: its value (the declared metric, %), the 95% interval, a
verdict, and the shares of its responses with no extractable answer and cut at max tokens (so a low number
can be told apart from a cut-off one; NVIDIA/NeMo-Skills reports `no_answer` beside accuracy the same way,
nemo_skills/evaluation/metrics/math_metrics.py at e5963de4). Per declared (student, base) pair
(`table.gains`): the student's gain over its base on the items both answered, with a paired bootstrap
interval, the paper's gain and a verdict for the gain. Then the paper's reported numbers and their source.

Verdicts are given only where the evaluated model is the paper's model or a declared reproduction of it
(`eval.models.<label>.paper_model`): `reproduced` when the paper's number lies inside our interval, else
`below` / `above`. A model that only plays a paper model's role (`stands_in_for`, e.g. a 135M model in
place of Qwen2.5-32B-Instruct) gets no verdict; its cell says what it is. Every value comes from the eval
results (the bootstrap is seeded), so the same inputs always give byte-identical files."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from ..core.errors import SkyT1Error
from ..core.io import iter_jsonl, read_json, write_text
from ..published.paper import TARGET_SOURCE, reported, source_note
from ..scoring import metrics

MODEL_COLS = ("ours", "ci95 low", "ci95 high", "verdict", "no answer %", "truncated %")
GAIN_COLS = ("gain", "gain ci95 low", "gain ci95 high", "paired items", "paper gain", "gain verdict")


def _value(s: dict) -> float:
    return s["value"] if "value" in s else s["accuracy"]


def _role(roles: dict | None, label: str) -> dict:
    return (roles or {}).get(label) or {}


def model_verdict(summary: dict, role: dict) -> str:
    """The verdict for one cell: only for the paper's model (or a declared reproduction), else what it is."""
    if role.get("paper_model"):
        rep = reported(summary.get("paper_name"), role["paper_model"])
        if rep is None:
            return ""
        ci = summary.get("ci95") or {}
        return metrics.verdict(rep, ci["low"], ci["high"])
    if role.get("stands_in_for"):
        return f"none: stands in for {role['stands_in_for']}"
    return "none: not a paper model"


def _share(summary: dict, kind: str):
    shares = (summary.get("failures") or {}).get("shares") or {}
    return round(100.0 * shares[kind], 2) if kind in shares else ""


# ------------------------------------------------------------------------------ gains

def item_scores(samples_path, metric: str) -> dict[str, float]:
    """{item id: the item's score for the declared metric} from an evaluate stage's per-sample JSONL."""
    ids, correct = [], []
    for row in iter_jsonl(samples_path):
        ids.append(row["id"])
        correct.append([bool(s["correct"]) for s in row["samples"]])
    return dict(zip(ids, metrics.item_scores(metric, correct)))


def check_gains(gains: list[dict], model_order: list[str]) -> None:
    for g in gains:
        for side in ("student", "base"):
            if g.get(side) not in model_order:
                raise SkyT1Error(f"table.gains: {side} {g.get(side)!r} is not a model of eval.models",
                                 f"use one of {model_order}")


def gain(bench: str, pair: dict, summaries: dict, scores: dict, roles: dict | None, boot: dict) -> dict | None:
    """The student's gain over its base on one benchmark, paired over the items both answered, and its
    verdict against the paper's gain. None when either model has no result for the benchmark."""
    s_lab, b_lab = pair["student"], pair["base"]
    s_sum, b_sum = summaries.get((bench, s_lab)), summaries.get((bench, b_lab))
    if s_sum is None or b_sum is None:
        return None
    s_scores, b_scores = scores[(bench, s_lab)], scores[(bench, b_lab)]
    common = [i for i in b_scores if i in s_scores]  # the base's item order: deterministic
    out = {"benchmark": bench, "student": s_lab, "base": b_lab, "gain": "", "low": "", "high": "", "items": len(common),
           "only_one_answered": len(set(s_scores) ^ set(b_scores))}
    if common:
        g = metrics.paired_gain([s_scores[i] for i in common], [b_scores[i] for i in common],
                                seed=boot["seed"], resamples=boot["resamples"])  # schema defaults
        out.update(gain=g["gain"], low=g["low"], high=g["high"], method=g["method"])
    s_role, b_role = _role(roles, s_lab), _role(roles, b_lab)
    paper_name = s_sum.get("paper_name")
    s_pm = s_role.get("paper_model") or s_role.get("stands_in_for")
    b_pm = b_role.get("paper_model") or b_role.get("stands_in_for")
    s_rep, b_rep = reported(paper_name, s_pm or ""), reported(paper_name, b_pm or "")
    out["paper_gain"] = "" if s_rep is None or b_rep is None else round(s_rep - b_rep, 2)
    if out["paper_gain"] == "" or out["gain"] == "":
        out["verdict"] = ""
    elif s_role.get("paper_model") and b_role.get("paper_model"):
        out["verdict"] = metrics.verdict(out["paper_gain"], out["low"], out["high"])
    else:
        out["verdict"] = f"none: stand-ins for {s_pm} over {b_pm}"
    return out


def compute_gains(summaries: list[dict], samples: dict, pairs: list[dict], roles: dict | None, boot: dict) -> dict:
    """{(benchmark, student, base): gain dict} for every declared pair on every benchmark.
    samples: {(benchmark, label): path of that evaluation's per-sample JSONL}."""
    by = {(s["benchmark"], s["model"]): s for s in summaries}
    scores = {key: item_scores(path, by[key]["metric"]) for key, path in samples.items() if key in by}
    out = {}
    for bench in dict.fromkeys(s["benchmark"] for s in summaries):
        for pair in pairs:
            g = gain(bench, pair, by, scores, roles, boot)
            if g is not None:
                out[(bench, pair["student"], pair["base"])] = g
    return out


def _pair_name(pair: dict, display: dict) -> str:
    return f"{display.get(pair['student'], pair['student'])} over {display.get(pair['base'], pair['base'])}"


# ------------------------------------------------------------------------------ the table

def build(summaries: list[dict], model_order: list[str], paper_columns: list[str], roles: dict | None = None,
          pairs: list[dict] | None = None, gains: dict | None = None) -> tuple[list[str], list[list]]:
    by = {(s["benchmark"], s["model"]): s for s in summaries}
    benchmarks = list(dict.fromkeys(s["benchmark"] for s in summaries))
    display = {s["model"]: s["model_display"] for s in summaries}
    pairs, gains = pairs or [], gains or {}
    header = ["benchmark", "paper_benchmark", "metric", "items", "samples_per_item"]
    for m in model_order:
        header += [f"{c}: {display.get(m, m)}" for c in MODEL_COLS]
    for p in pairs:
        header += [f"{c}: {_pair_name(p, display)}" for c in GAIN_COLS]
    header += [f"paper: {p}" for p in paper_columns] + ["paper_source"]
    rows = []
    for b in benchmarks:
        first = next(s for s in summaries if s["benchmark"] == b)
        row = [b, first.get("paper_name") or "", first["metric"], first["items"], first.get("samples_per_item", 1)]
        for m in model_order:
            s = by.get((b, m))
            if s is None:
                row += [""] * len(MODEL_COLS)
                continue
            ci = s.get("ci95") or {}
            row += [_value(s), ci.get("low", ""), ci.get("high", ""), model_verdict(s, _role(roles, m)),
                    _share(s, "no_answer"), _share(s, "max_tokens")]
        for p in pairs:
            g = gains.get((b, p["student"], p["base"]))
            row += [""] * len(GAIN_COLS) if g is None else [g["gain"], g["low"], g["high"], g["items"],
                                                             g["paper_gain"], g["verdict"]]
        row += [("" if (v := reported(first.get("paper_name"), p)) is None else v) for p in paper_columns]
        row.append(source_note(first.get("paper_name")))
        rows.append(row)
    return header, rows


def _fmt(v) -> str:
    return f"{v:.2f}" if isinstance(v, float) else str(v)


def _signed(v) -> str:
    return f"{v:+.2f}" if isinstance(v, (int, float)) else str(v)


def to_markdown(header: list[str], rows: list[list]) -> str:
    """Per model: value with its interval in one cell ('12.50 [3.10, 40.20]'), its verdict, and its
    no-answer / truncated shares ('6.2% / 12.5%'); per gain: '+6.25 [-3.10, 15.60] (n=16)', the paper's
    gain and the verdict. The paper_source column is left to the CSV and the note."""
    cols, keep = [], []
    i = 0
    while i < len(header):
        h = header[i]
        if h.startswith("ours: "):
            d = h[len("ours: "):]
            cols += [f"ours: {d} (95% CI)", f"verdict: {d}", f"no answer / truncated: {d}"]
            keep.append(("model", i))
            i += len(MODEL_COLS)
        elif h.startswith("gain: "):
            d = h[len("gain: "):]
            cols += [f"gain: {d} (paired 95% CI)", f"paper gain: {d}", f"gain verdict: {d}"]
            keep.append(("gain", i))
            i += len(GAIN_COLS)
        elif h == "paper_source":
            i += 1
        else:
            cols.append(h)
            keep.append(("plain", i))
            i += 1
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in rows:
        out = []
        for kind, j in keep:
            if kind == "plain":
                out.append(_fmt(row[j]))
            elif kind == "model":
                value, lo, hi, verdict, na, cut = row[j:j + len(MODEL_COLS)]
                out.append("" if value == "" else f"{_fmt(value)} [{_fmt(lo)}, {_fmt(hi)}]")
                out.append(verdict or "-")
                out.append("" if value == "" else f"{na:.1f}% / {cut:.1f}%" if na != "" and cut != "" else "-")
            else:
                g, lo, hi, n, paper_gain, verdict = row[j:j + len(GAIN_COLS)]
                out.append("-" if g == "" else f"{_signed(g)} [{_signed(lo)}, {_signed(hi)}] (n={n})")
                out.append("-" if paper_gain == "" else _signed(paper_gain))
                out.append(verdict or "-")
        lines.append("| " + " | ".join(out) + " |")
    return "\n".join(lines) + "\n"


def note(preset: str, summaries: list[dict], model_order: list[str], roles: dict | None, gains: dict) -> str:
    display = {s["model"]: s["model_display"] for s in summaries}
    methods = sorted({(s.get("ci95") or {}).get("method", "") for s in summaries} - {""})
    gain_methods = sorted({g.get("method", "") for g in gains.values()} - {""})
    lines = [f"Preset `{preset}`. Columns `ours:` were measured by this run: the benchmark's declared metric in %, "
             "with its 95% confidence interval in brackets (" + "; ".join(methods) + "); `no answer / truncated`: "
             "the shares of its responses with no extractable answer and cut at max tokens."]
    if gains:
        lines.append("Columns `gain:` are the student's gain over its base in percentage points on the items both "
                     "answered (n), with a 95% interval (" + "; ".join(gain_methods) + "); `paper gain` is the same "
                     "difference of the paper's numbers.")
    lines.append("`verdict:` compares the paper's number (or gain) with our interval: `reproduced` when it lies "
                 "inside, else `below` or `above` (our interval lies below or above it); `-` where the paper reports "
                 "no number. Verdicts are given only for the paper's own models and declared reproductions of them.")
    for m in model_order:
        role = _role(roles, m)
        if role.get("stands_in_for"):
            lines.append(f"{display.get(m, m)} stands in for {role['stands_in_for']}: it plays that model's part in "
                         "this preset's recipe but is not it, so its cells get no verdict and the paper's numbers "
                         "are context, not a target.")
    lines.append(f"Columns `paper:` are the numbers the authors report, from the {TARGET_SOURCE}. Math500's target is "
                 "the README's 86.4 for Sky-T1-32B-Preview (81.4 for Qwen2.5-32B-Instruct), the figures after the "
                 "authors' Math500 prompt-format fix; the release post reports 82.4 (76.2). The CSV's "
                 "`paper_source` column names each row's source.")
    return "\n\n".join(lines) + "\n\n"


@dataclass(frozen=True)
class Spec:
    """models: eval.models' labels in column order; preset: named in the note; roles: each model's part in
    the paper (paper_model / stands_in_for); gains: the (student, base) pairs; bootstrap: the seeded
    resampling of the gain intervals; paper_columns: the paper's models whose numbers the main table shows
    (None for one benchmark's plot, which shows none)."""
    models: list
    preset: str
    roles: dict
    gains: list
    bootstrap: dict
    paper_columns: list | None = field(default=None, metadata={"omit_none": True})


@dataclass(frozen=True)
class Paths:
    summaries: tuple[str, ...]   # results/eval/<label>/<bench>.summary.json
    samples: tuple[str, ...]     # the per-sample JSONL beside each summary
    csv: str | None = None       # table_main's outputs
    md: str | None = None
    png: str | None = None       # plot_benchmark's output


def spec(config: dict, bench: str | None = None, **_wildcards) -> Spec:
    """The main table's spec, or with `bench` the spec of that benchmark's plot. Each model's part in the
    paper (verdicts only for the paper's own models), the gains and the seeded bootstrap that makes their
    intervals: all change the table."""
    ev = config["eval"]
    roles = {m: {k: e[k] for k in ("paper_model", "stands_in_for") if k in e} for m, e in ev["models"].items()}
    return Spec(list(ev["models"]), config["preset"], roles, config["table"]["gains"], ev.get("bootstrap") or {},
                None if bench is not None else config["table"]["paper_columns"])


def run(spec: Spec, paths: Paths) -> None:
    summary_paths, sample_paths, csv_path, md_path = list(paths.summaries), list(paths.samples), paths.csv, paths.md
    model_order, paper_columns, preset, roles, pairs, bootstrap = (spec.models, spec.paper_columns, spec.preset,
                                                                    spec.roles, spec.gains, spec.bootstrap)
    summaries = [read_json(p) for p in summary_paths]
    pairs = pairs or []
    check_gains(pairs, model_order)
    samples = _samples_by_key(summaries, summary_paths, sample_paths)
    gains = compute_gains(summaries, samples, pairs, roles, bootstrap or {})
    header, rows = build(summaries, model_order, paper_columns, roles, pairs, gains)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    write_text(csv_path, buf.getvalue())
    write_text(md_path, "# Main table\n\n" + note(preset, summaries, model_order, roles, gains)
               + to_markdown(header, rows))


def _samples_by_key(summaries: list[dict], summary_paths: list[str], sample_paths: list[str]) -> dict:
    """Each summary's per-sample JSONL: the file beside it (results/eval/<label>/<bench>.jsonl)."""
    wanted = {str(p) for p in sample_paths}
    out = {}
    for s, path in zip(summaries, summary_paths):
        jsonl = str(path)[: -len(".summary.json")] + ".jsonl"
        if jsonl not in wanted:
            raise SkyT1Error(f"table: no per-sample results beside {path}", "list results/eval/<label>/<bench>.jsonl "
                             "among the rule's samples inputs")
        out[(s["benchmark"], s["model"])] = jsonl
    return out


# ------------------------------------------------------------------------------ plots

def plot_benchmark(summaries: list[dict], spec: Spec, path, bench: str, gains: dict | None = None) -> None:
    """spec gives the models (in order), their roles and the declared gain pairs. Left: this run's models with their 95% interval as whiskers, then the paper's reported numbers for
    the models that are the paper's (hatched, no whisker: the post gives none). Right, where gains are
    declared: each student's gain over its base with its paired interval, beside the paper's gain."""
    import textwrap

    model_order, roles, pairs = spec.models, spec.roles, spec.gains

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..core.io import atomic_path

    matplotlib.rcParams["svg.hashsalt"] = "skyt1"
    by = {s["model"]: s for s in summaries if s["benchmark"] == bench}
    pairs = [p for p in (pairs or []) if (bench, p["student"], p["base"]) in (gains or {})]
    labels, values, errs, colors, hatches = [], [], [[], []], [], []
    palette = ["#4c72b0", "#dd8452", "#55a868", "#8172b3"]
    metric = ""
    for i, m in enumerate(model_order):
        s = by.get(m)
        if s is None:
            continue
        metric = s["metric"]
        v, ci = _value(s), s.get("ci95") or {}
        role = _role(roles, m)
        tag = f"this run; stands in for {role['stands_in_for']}" if role.get("stands_in_for") else "this run"
        labels.append(f"{s['model_display']}\n({tag})")
        values.append(v)
        errs[0].append(max(0.0, v - ci.get("low", v)))
        errs[1].append(max(0.0, ci.get("high", v) - v))
        colors.append(palette[i % len(palette)])
        hatches.append("")
    for m in model_order:
        s, role = by.get(m), _role(roles, m)
        rep = reported(s.get("paper_name"), role["paper_model"]) if s and role.get("paper_model") else None
        if rep is not None:
            labels.append(f"{role['paper_model']}\n(paper)")
            values.append(rep)
            errs[0].append(0.0)
            errs[1].append(0.0)
            colors.append("#bbbbbb")
            hatches.append("//")
    width = max(4.0, 1.6 * len(labels) + 1)
    gain_width = 2.2 * len(pairs) + 1.5 if pairs else 0.0
    fig, axes = plt.subplots(1, 2 if pairs else 1, figsize=(width + gain_width, 4.4), dpi=100,
                             gridspec_kw={"width_ratios": [width, gain_width]} if pairs else None)
    ax = axes[0] if pairs else axes
    xs = range(len(values))
    bars = ax.bar(xs, values, color=colors, edgecolor="#333333")
    ours = [i for i, h in enumerate(hatches) if not h]
    ax.errorbar(ours, [values[i] for i in ours], yerr=[[errs[0][i] for i in ours], [errs[1][i] for i in ours]],
                fmt="none", ecolor="#222222", capsize=6, label="95% CI")
    for bar, h in zip(bars, hatches):
        bar.set_hatch(h)
    for x, v in enumerate(values):
        ax.text(x + 0.05, v + 1.0, f"{v:.1f}", ha="left", va="bottom", fontsize=8)
    wrapped = ["\n".join(textwrap.fill(part, 18, break_long_words=False) for part in lab.split("\n")) for lab in labels]
    ax.set_xticks(list(xs), wrapped, fontsize=7)
    ax.set_ylim(0, 105)
    ax.set_ylabel(f"{metric or 'accuracy'} (%)")
    ax.set_title(f"{bench}: this run (95% CI) vs the paper", fontsize=10)
    if pairs:
        gx = axes[1]
        glabels, gvals, gerr, gcol, ghatch = [], [], [[], []], [], []
        display = {s["model"]: s["model_display"] for s in summaries}
        for p in pairs:
            g = gains[(bench, p["student"], p["base"])]
            if g["gain"] != "":
                glabels.append(f"{display.get(p['student'], p['student'])} over {display.get(p['base'], p['base'])}"
                               f"\n(this run, n={g['items']})\n{g['verdict'] or 'no paper gain'}")
                gvals.append(g["gain"])
                gerr[0].append(max(0.0, g["gain"] - g["low"]))
                gerr[1].append(max(0.0, g["high"] - g["gain"]))
                gcol.append("#4c72b0")
                ghatch.append("")
            if g["paper_gain"] != "":
                ref = "paper" if not g["verdict"].startswith("none") else "paper, for reference"
                glabels.append(f"paper's gain\n({ref})")
                gvals.append(g["paper_gain"])
                gerr[0].append(0.0)
                gerr[1].append(0.0)
                gcol.append("#bbbbbb")
                ghatch.append("//")
        gxs = range(len(gvals))
        gbars = gx.bar(gxs, gvals, color=gcol, edgecolor="#333333")
        for bar, h in zip(gbars, ghatch):
            bar.set_hatch(h)
        mine = [i for i, h in enumerate(ghatch) if not h]
        gx.errorbar(mine, [gvals[i] for i in mine], yerr=[[gerr[0][i] for i in mine], [gerr[1][i] for i in mine]],
                    fmt="none", ecolor="#222222", capsize=6)
        for x, v in enumerate(gvals):
            gx.text(x + 0.05, v, f"{v:+.1f}", ha="left", va="bottom", fontsize=8)
        gx.axhline(0.0, color="#333333", linewidth=0.8)
        gx.set_xticks(list(gxs), ["\n".join(textwrap.fill(part, 22, break_long_words=False) for part in lab.split("\n"))
                                  for lab in glabels], fontsize=7)
        gx.set_ylim(-105, 105)
        gx.set_ylabel("gain over the base (points)")
        gx.set_title("gain over the base (paired 95% CI)", fontsize=10)
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        # no timestamp or software version in the file, so that reruns give the same bytes
        fig.savefig(tmp, format="png", metadata={"Software": None})
    plt.close(fig)


def run_plot(spec: Spec, paths: Paths, bench: str) -> None:
    summary_paths, sample_paths, png_path = list(paths.summaries), list(paths.samples), paths.png
    model_order, roles, pairs, bootstrap = spec.models, spec.roles, spec.gains, spec.bootstrap
    summaries = [read_json(p) for p in summary_paths]
    pairs = pairs or []
    check_gains(pairs, model_order)
    gains = compute_gains(summaries, _samples_by_key(summaries, summary_paths, sample_paths), pairs, roles,
                          bootstrap or {})
    plot_benchmark(summaries, spec, png_path, bench, gains)
