# Report: every metric file in one table, a readable summary and the figures of `snakemake --report`.
from defectlab.jobs import kitchen as jobs_kitchen

KITCHEN = jobs_kitchen.experiments(config)
SEQUENTIAL = jobs_patchcore.pixel_experiments(config)  # the Sequential PatchCore study's: evaluated per pixel


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
        maps=lambda wildcards: maps_files(wildcards.experiment, "test"),
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
        patch=lambda wildcards: jobs_kitchen.example_grid(config, wildcards.experiment),
    log:
        "logs/example_figure/{experiment}.log",
    conda:
        ENV
    script:
        "../scripts/example_figure.py"


# The Sequential PatchCore study's tables, of the PatchCore experiments (asked for by `all` when there are any).
rule study_tables:
    input:
        metrics=expand("results/metrics/{experiment}.parquet", experiment=SEQUENTIAL),
        coresets=expand("results/coresets/{experiment}.h5", experiment=SEQUENTIAL),
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
        experiments={name: config["experiments"][name] for name in SEQUENTIAL},
        datasets=config["datasets"],
        table1=config["report"].get("table1", SEQUENTIAL),
        sweep=config["report"].get("sweep", next(iter(SEQUENTIAL), None)),
    log:
        "logs/study_tables.log",
    conda:
        ENV
    script:
        "../scripts/study_tables.py"


# Table 1 of the autoencoder study, of the autoencoder experiments and the baselines beside them (asked for by
# `all` when autoencoder experiments are configured).
rule autoencoder_table:
    input:
        metrics=expand("results/metrics/{experiment}.parquet", experiment=AUTOENCODERS + BASELINES),
        weights=[jobs_autoencoder.weights(config, name) for name in AUTOENCODERS],
    output:
        table="results/tables/autoencoders.parquet",
        markdown=report("results/tables/autoencoders.md", category="Study", caption="../report/autoencoders.rst"),
    params:
        weights={name: jobs_autoencoder.weights(config, name) for name in AUTOENCODERS},
        generators={name: generator_of(spec) for name, spec in config["datasets"].items() if not converted(name) and not denoised(name)},
    log:
        "logs/autoencoder_table.log",
    conda:
        ENV
    script:
        "../scripts/autoencoder_table.py"


# Reconstructions over training (the autoencoder paper's Fig. 8): the first repeat of each trained model.
rule autoencoder_training_figure:
    input:
        weights=[jobs_autoencoder.weights(config, name) for name in jobs_autoencoder.first_repeats(config)],
        datasets=sorted(
            {f"results/datasets/{d}" for name in jobs_autoencoder.first_repeats(config) for d in config["experiments"][name]["train"]}
        ),
    output:
        report("results/figures/autoencoder-training.png", category="Figures", caption="../report/autoencoder-training.rst"),
    params:
        weights={name: jobs_autoencoder.weights(config, name) for name in jobs_autoencoder.first_repeats(config)},
        datasets={
            name: [f"results/datasets/{d}" for d in config["experiments"][name]["train"]]
            for name in jobs_autoencoder.first_repeats(config)
        },
        labels={name: jobs_autoencoder.training_label(config, name) for name in jobs_autoencoder.first_repeats(config)},
    log:
        "logs/autoencoder_training_figure.log",
    conda:
        ENV
    script:
        "../scripts/autoencoder_training_figure.py"


# The kitchen-board study's tables (Table 6.1, 6.2, 6.3/6.4 and 5.2 analogues, per-kind recall) and ROC figure, of
# the experiments evaluated per test patch (asked for by `all` when there are any).
rule kitchen_tables:
    input:
        metrics=expand("results/metrics/{experiment}.parquet", experiment=KITCHEN),
        maps=[path for name in KITCHEN for path in maps_files(name, "test")],
        datasets=sorted(
            {dataset_dir(name, "test") for name in KITCHEN}
            | {f"results/datasets/{dataset}" for dataset in jobs_kitchen.training_datasets(config)}
        ),
    output:
        table61=report("results/tables/kitchen-table61.md", category="Study", caption="../report/kitchen-table61.rst"),
        table61_parquet="results/tables/kitchen-table61.parquet",
        table62=report("results/tables/kitchen-table62.md", category="Study", caption="../report/kitchen-table62.rst"),
        table62_parquet="results/tables/kitchen-table62.parquet",
        table6364=report(
            "results/tables/kitchen-table6364.md", category="Study", caption="../report/kitchen-table6364.rst"
        ),
        table52=report("results/tables/kitchen-table52.md", category="Study", caption="../report/kitchen-table52.rst"),
        kinds=report("results/tables/kitchen-kinds.md", category="Study", caption="../report/kitchen-kinds.rst"),
        roc=report("results/figures/kitchen-roc.png", category="Study", caption="../report/kitchen-roc.rst"),
    params:
        info=[jobs_kitchen.row_info(config, name) for name in KITCHEN],
        maps={name: maps_files(name, "test") for name in KITCHEN},
        test={name: dataset_dir(name, "test") for name in KITCHEN},
        patch={name: config["experiments"][name]["patch"] for name in KITCHEN},
        training={dataset: jobs_kitchen.category(config, dataset) for dataset in jobs_kitchen.training_datasets(config)},
        strides=jobs_kitchen.STRIDES,
        patches=config["patches"],
        budget_gib=config["report"]["memory_budget_gib"],
    log:
        "logs/kitchen_tables.log",
    conda:
        ENV
    script:
        "../scripts/kitchen_tables.py"


# The kitchen-board study's t-SNE figure (the thesis's Fig. 6.8) of the CutPaste experiments' test-patch embeddings,
# written beside their test maps, one file per maps file (asked for by `all` when CutPaste experiments are
# evaluated per test patch).
KITCHEN_TSNE = jobs_kitchen.tsne_experiments(config)


rule kitchen_tsne:
    input:
        embeddings=[path for name in KITCHEN_TSNE for path in jobs_kitchen.embeddings_files(config, name)],
        maps=[path for name in KITCHEN_TSNE for path in maps_files(name, "test")],
        datasets=sorted({dataset_dir(name, "test") for name in KITCHEN_TSNE}),
    output:
        report("results/figures/kitchen-tsne.png", category="Study", caption="../report/kitchen-tsne.rst"),
    params:
        labels={name: config["experiments"][name].get("label", name) for name in KITCHEN_TSNE},
        embeddings={name: jobs_kitchen.embeddings_files(config, name) for name in KITCHEN_TSNE},
        maps={name: maps_files(name, "test") for name in KITCHEN_TSNE},
        test={name: dataset_dir(name, "test") for name in KITCHEN_TSNE},
        patch={name: config["experiments"][name]["patch"] for name in KITCHEN_TSNE},
        max_points=jobs_kitchen.TSNE_MAX_POINTS,
        seed=jobs_kitchen.tsne_seed(config),
    log:
        "logs/kitchen_tsne.log",
    conda:
        ENV
    script:
        "../scripts/kitchen_tsne.py"
