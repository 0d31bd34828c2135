"""The `skyt1` command: the package's logic, usable outside snakemake.

The command registry lives here and imports the modules that implement the commands, never the reverse
(no domain module imports skyt1.cli): COMMANDS maps each subcommand to (configure its argparse subparser,
run it), filled from the table in `_register` the first time a parser is built."""

from __future__ import annotations

import argparse
import sys
from typing import Callable

from .. import __version__
from ..core.errors import SkyT1Error
from ..core.registry import Registry

Configure = Callable[[argparse.ArgumentParser], None]
Run = Callable[[argparse.Namespace], int]
COMMANDS: Registry[tuple[Configure, Run]] = Registry("command", "see skyt1 --help")


def _register() -> None:
    """One line per subcommand: its name, the function that adds its arguments, the one that runs it.
    The modules are imported here (on first use) so `import skyt1.cli` stays cheap."""
    if len(COMMANDS):
        return
    from ..workflow import cost, recipe
    from . import data as data_cli
    from . import score as scoring_cli
    from . import lock as lock_cli

    for name, configure, run in (
        ("artifacts", recipe._artifacts_args, recipe._artifacts),
        ("cost", cost._configure, cost._cost),
        ("data", data_cli._configure, data_cli._data),
        ("lock", lock_cli.configure, lock_cli.run),
        ("provenance", _provenance_args, _provenance),
        ("recipe", recipe._recipe_args, recipe._recipe),
        ("score", scoring_cli._configure, scoring_cli._score),
    ):
        COMMANDS.add(name, (configure, run))


def _provenance_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", nargs="?", help="an output under results/ (none: what a result made now would record)")
    p.add_argument("--json", action="store_true", help="the lineage graph as JSON")
    p.add_argument("--cell", metavar="BENCHMARK,MODEL", help="trace one number of a table (model label or column)")
    p.add_argument("--row", type=int, metavar="N", help="trace row N of the SFT set to its source dataset row")
    p.add_argument("--graph", metavar="OUT.svg", help="draw the lineage graph (graphviz; .dot writes the DOT text)")
    p.add_argument("-d", "--directory", default=".", help="the pipeline's working directory (default: .)")
    p.add_argument("--configfile", nargs="*", default=[], help="the config to compare with (as given to snakemake)")
    p.add_argument("--no-config-check", action="store_true", help="do not compare with the current config")


def _provenance(args: argparse.Namespace) -> int:
    """How a file was made, back to the raw data, from the lineage records the pipeline wrote."""
    import json

    if not args.file:
        from ..provenance import collect
        print(json.dumps(collect("cli"), indent=2))
        return 0
    from pathlib import Path

    from ..provenance import lineage

    args.directory = str(Path(args.directory).resolve())  # snakemake's DAG planning changes into it
    if args.row is not None:
        out = lineage.row_lineage(args.directory, args.file, args.row)
        print(json.dumps(out, indent=2, ensure_ascii=False))
        return 0
    current = None if args.no_config_check else lineage.current_state(args.directory, args.file, args.configfile)
    only = lineage.cell_inputs(args.directory, args.file, args.cell) if args.cell else None
    graph = lineage.trace(args.file, args.directory, current, only_inputs=only)
    if args.graph:
        dot = lineage.to_dot(graph)
        if args.graph.endswith(".dot"):
            from ..core.io import write_text
            write_text(args.graph, dot)
        else:
            lineage.dot_to_svg(dot, args.graph)
    if args.json:
        print(json.dumps(graph, indent=2, ensure_ascii=False))
    elif not args.graph:
        print(lineage.to_text(graph), end="")
    else:
        flagged = sum(bool(n["marks"]) for n in [*graph["files"].values(), *graph["jobs"].values()])
        print(f"{args.graph}: {len(graph['jobs'])} jobs, {len(graph['files'])} files, {flagged} flagged")
    return 0


def build_parser() -> argparse.ArgumentParser:
    _register()
    parser = argparse.ArgumentParser(prog="skyt1", description="Sky-T1 reproduction pipeline tools")
    parser.add_argument("--version", action="version", version=f"skyt1 {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS.names():
        configure, fn = COMMANDS.get(name)
        p = sub.add_parser(name, help=(fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else None)
        configure(p)
        p.set_defaults(_fn=fn)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args._fn(args) or 0)
    except SkyT1Error as e:
        print(f"skyt1 error: {e}", file=sys.stderr)
        return 1
