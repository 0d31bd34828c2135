"""Report graphs: the workflow's rule graph and the main table's lineage graph, as SVG."""

from __future__ import annotations

import logging

from .. import lineage
from ..errors import SkyT1Error

log = logging.getLogger(__name__)


def run(table_path: str, rulegraph_svg: str, lineage_svg: str, config: dict, root: str = ".") -> None:
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
