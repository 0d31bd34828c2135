"""Report graphs: the workflow's rule graph and the main table's lineage graph, as SVG."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ..provenance import lineage
from ..core.errors import SkyT1Error

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Spec:
    """The whole config: the current DAG is planned from it (its preset is the rule's params)."""
    config: dict


@dataclass(frozen=True)
class Paths:
    table: str       # the main table whose lineage is drawn
    rulegraph: str   # SVG outputs
    lineage: str


def spec(config: dict, **_wildcards) -> Spec:
    return Spec(config)


def run(spec: Spec, paths: Paths, root: str = ".") -> None:
    table_path, rulegraph_svg, lineage_svg, config = paths.table, paths.rulegraph, paths.lineage, spec.config
    # The current config's view from snakemake's public CLI (--summary, --rulegraph; nothing runs) gives the
    # rule graph and which outputs' params changed, so the lineage graph can mark what was made under other values.
    current = lineage.current_state(root, table_path, config=config)
    if current.get("error"):
        raise SkyT1Error(f"cannot build the current DAG: {current['error']}", "run `snakemake --rulegraph` to see why")
    lineage.dot_to_svg(current["rule_dot"], rulegraph_svg)
    graph = lineage.trace(table_path, root, current)
    lineage.dot_to_svg(lineage.to_dot(graph), lineage_svg)
    flagged = sum(bool(n["marks"]) for n in [*graph["files"].values(), *graph["jobs"].values()])
    log.info("lineage of %s: %d jobs, %d files, %d flagged", table_path, len(graph["jobs"]), len(graph["files"]), flagged)
