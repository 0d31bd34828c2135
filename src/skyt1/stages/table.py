"""Stage 7: the main table and one bar chart per benchmark.

Benchmarks as rows; per model of this run its value (the declared metric, %), the 95% interval and, where
the paper reports a number for the model's paper column, a verdict: `reproduced` when the reported value
lies inside our interval, else `below` or `above`. Then the paper's reported numbers. Every value comes from
the summaries (no randomness here), so the same summaries always give byte-identical files."""

from __future__ import annotations

import csv
import io

from ..io import read_json, write_text
from ..paper import reported


def _value(s: dict) -> float:
    return s["value"] if "value" in s else s["accuracy"]


def build(summaries: list[dict], model_order: list[str], paper_columns: list[str]) -> tuple[list[str], list[list]]:
    by = {(s["benchmark"], s["model"]): s for s in summaries}
    benchmarks = list(dict.fromkeys(s["benchmark"] for s in summaries))
    display = {s["model"]: s["model_display"] for s in summaries}
    header = ["benchmark", "paper_benchmark", "metric", "items", "samples_per_item"]
    for m in model_order:
        d = display.get(m, m)
        header += [f"ours: {d}", f"ci95 low: {d}", f"ci95 high: {d}", f"verdict: {d}"]
    header += [f"paper: {p}" for p in paper_columns]
    rows = []
    for b in benchmarks:
        first = next(s for s in summaries if s["benchmark"] == b)
        row = [b, first.get("paper_name") or "", first["metric"], first["items"], first.get("samples_per_item", 1)]
        for m in model_order:
            s = by.get((b, m))
            if s is None:
                row += ["", "", "", ""]
                continue
            ci = s.get("ci95") or {}
            row += [_value(s), ci.get("low", ""), ci.get("high", ""), s.get("verdict") or ""]
        row += [("" if (v := reported(first.get("paper_name"), p)) is None else v) for p in paper_columns]
        rows.append(row)
    return header, rows


def _fmt(v) -> str:
    return f"{v:.2f}" if isinstance(v, float) else str(v)


def to_markdown(header: list[str], rows: list[list]) -> str:
    """Each model's value with its interval in one cell ('12.50 [3.10, 40.20]'), then its verdict."""
    cols, keep = [], []
    i = 0
    while i < len(header):
        h = header[i]
        if h.startswith("ours: "):
            cols += [f"{h} (95% CI)", h.replace("ours: ", "verdict: ", 1)]
            keep.append(("cell", i))
            i += 4
            continue
        cols.append(h)
        keep.append(("plain", i))
        i += 1
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in rows:
        out = []
        for kind, j in keep:
            if kind == "plain":
                out.append(_fmt(row[j]))
                continue
            value, lo, hi, verdict = row[j:j + 4]
            out.append("" if value == "" else f"{_fmt(value)} [{_fmt(lo)}, {_fmt(hi)}]")
            out.append(verdict or "-")
        lines.append("| " + " | ".join(out) + " |")
    return "\n".join(lines) + "\n"


def plot_benchmark(summaries: list[dict], model_order: list[str], path, bench: str) -> None:
    """Bars: this run's models with their 95% interval as whiskers, then the paper's reported numbers
    for the models' paper columns (hatched, no whisker: the post gives none)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..io import atomic_path

    matplotlib.rcParams["svg.hashsalt"] = "skyt1"
    by = {s["model"]: s for s in summaries if s["benchmark"] == bench}
    labels, values, errs, colors, hatches = [], [], [[], []], [], []
    palette = ["#4c72b0", "#dd8452", "#55a868", "#8172b3"]
    metric = ""
    for i, m in enumerate(model_order):
        s = by.get(m)
        if s is None:
            continue
        metric = s["metric"]
        v, ci = _value(s), s.get("ci95") or {}
        labels.append(f"{s['model_display']}\n(this run)")
        values.append(v)
        errs[0].append(max(0.0, v - ci.get("low", v)))
        errs[1].append(max(0.0, ci.get("high", v) - v))
        colors.append(palette[i % len(palette)])
        hatches.append("")
    for m in model_order:
        s = by.get(m)
        rep = s.get("reported") if s else None
        if rep is not None:
            labels.append(f"{s['paper_model']}\n(paper)")
            values.append(rep)
            errs[0].append(0.0)
            errs[1].append(0.0)
            colors.append("#bbbbbb")
            hatches.append("//")
    import textwrap

    fig, ax = plt.subplots(figsize=(max(4.0, 1.6 * len(labels) + 1), 4), dpi=100)
    xs = range(len(values))
    bars = ax.bar(xs, values, color=colors, edgecolor="#333333")
    ours = [i for i, h in enumerate(hatches) if not h]
    ax.errorbar(ours, [values[i] for i in ours], yerr=[[errs[0][i] for i in ours], [errs[1][i] for i in ours]],
                fmt="none", ecolor="#222222", capsize=6, label="95% CI")
    for bar, h in zip(bars, hatches):
        bar.set_hatch(h)
    for x, v in enumerate(values):
        ax.text(x + 0.05, v + 1.0, f"{v:.1f}", ha="left", va="bottom", fontsize=8)
    wrapped = ["\n".join(textwrap.fill(part, 18) for part in lab.split("\n")) for lab in labels]
    ax.set_xticks(list(xs), wrapped, fontsize=8)
    ax.set_ylim(0, 105)
    ax.set_ylabel(f"{metric or 'accuracy'} (%)")
    ax.set_title(f"{bench}: this run (95% CI) vs the paper")
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        # no timestamp or software version in the file, so that reruns give the same bytes
        fig.savefig(tmp, format="png", metadata={"Software": None})
    plt.close(fig)


def run(summary_paths: list[str], csv_path, md_path, model_order: list[str], paper_columns: list[str], preset: str) -> None:
    summaries = [read_json(p) for p in summary_paths]
    header, rows = build(summaries, model_order, paper_columns)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    write_text(csv_path, buf.getvalue())
    methods = sorted({(s.get("ci95") or {}).get("method", "") for s in summaries} - {""})
    note = (f"Preset `{preset}`. Columns `ours:` were measured by this run: the benchmark's declared metric in %, "
            "with its 95% confidence interval in brackets (" + "; ".join(methods) + "). "
            "`verdict:` compares the paper's number for that model's paper column with our interval: `reproduced` "
            "when it lies inside, else `below` or `above` (our interval lies below or above it); `-` where the "
            "paper reports no number. Columns `paper:` are the numbers the Sky-T1-32B-Preview post reports, "
            "for reference.\n\n")
    write_text(md_path, "# Main table\n\n" + note + to_markdown(header, rows))


def run_plot(summary_paths: list[str], png_path, model_order: list[str], bench: str) -> None:
    plot_benchmark([read_json(p) for p in summary_paths], model_order, png_path, bench)
