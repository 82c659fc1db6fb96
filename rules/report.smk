# Report: every metric file in one table, a readable summary and the figures of `snakemake --report`.


rule metrics_table:
    input:
        expand("results/metrics/{experiment}.parquet", experiment=config["experiments"]),
    output:
        table="results/tables/metrics.parquet",
        summary=report("results/tables/summary.md", category="Tables", caption="../report/summary.rst"),
    log:
        "logs/metrics_table.log",
    conda:
        ENV
    script:
        "../scripts/metrics_table.py"


rule example_figure:
    input:
        maps=lambda wildcards: anomaly_maps(wildcards.experiment, "test"),
        dataset=lambda wildcards: dataset_dir(wildcards.experiment, "test"),
        metrics="results/metrics/{experiment}.parquet",
    output:
        report(
            "results/figures/{experiment}-examples.png",
            category="Figures",
            subcategory="{experiment}",
            caption="../report/examples.rst",
        ),
    params:
        examples=config["report"]["examples"],
    log:
        "logs/example_figure/{experiment}.log",
    conda:
        ENV
    script:
        "../scripts/example_figure.py"


rule coreset_figure:
    input:
        shards=shard_coresets,
        melded="results/coresets/{experiment}.h5",
    output:
        report(
            "results/figures/{experiment}-coreset.png",
            category="Figures",
            subcategory="{experiment}",
            caption="../report/coreset.rst",
        ),
    log:
        "logs/coreset_figure/{experiment}.log",
    conda:
        ENV
    script:
        "../scripts/coreset_figure.py"


rule study_tables:
    input:
        metrics=expand("results/metrics/{experiment}.parquet", experiment=config["experiments"]),
        coresets=expand("results/coresets/{experiment}.h5", experiment=config["experiments"]),
    output:
        table1=report("results/tables/table1.md", category="Study", caption="../report/table1.rst"),
        table2=report("results/tables/table2.md", category="Study", caption="../report/table2.rst"),
        sweep="results/tables/coverage_sweep.parquet",
        provenance="results/tables/coreset_provenance.parquet",
        provenance_md=report(
            "results/tables/coreset_provenance.md", category="Study", caption="../report/provenance.rst"
        ),
        figure=report("results/figures/coverage-sweep.png", category="Study", caption="../report/coverage.rst"),
    params:
        experiments=config["experiments"],
        datasets=config["datasets"],
        table1=config["report"].get("table1", list(config["experiments"])),
        sweep=config["report"].get("sweep", next(iter(config["experiments"]))),
    log:
        "logs/study_tables.log",
    conda:
        ENV
    script:
        "../scripts/study_tables.py"
