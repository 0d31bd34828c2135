rule lineage_graphs:
    """The rule graph and the main table's lineage graph (from the recorded lineage) as SVG for the report."""
    input:
        table="results/table_main.csv",
    output:
        rulegraph=report("results/report/rulegraph.svg", caption="../report/rulegraph.rst", category="Provenance"),
        lineage=report("results/report/table_main.lineage.svg", caption="../report/table_main_lineage.rst",
                       category="Provenance"),
    log:
        "logs/report/lineage_graphs.log",
    benchmark:
        "benchmarks/report/lineage_graphs.tsv"
    params:
        preset=config["preset"],
    localrule: True
    conda:
        ENV_PIPELINE
    threads: res("table", "threads")
    resources:
        mem_mb=res("table", "mem_mb"),
        runtime=res("table", "runtime"),
        gpu=res("table", "gpu"),
    script:
        "../scripts/lineage_graphs.py"
