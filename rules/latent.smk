# The latent space of defects (seed 000, defectlab.latent): items of each split cut from a dataset, pooled
# embeddings per backbone before and after fine-tuning, a 2-D reduction per job, the screen of the training
# latent (K-means, silhouette over distance metrics, DBSCAN, Isolation Forest, the curation), a classifier per
# backbone fine-tuned on the curated items, the evaluation (ARI, the ambiguous cluster, the test items routed to
# an operator) and the report (Tables 1 and 2 beside the paper's, the figure grids, the review sheet).

from defectlab.jobs import latent as jobs_latent

LATENT = config.get("latent", {})
LATENT_BACKBONES = jobs_latent.backbones(config) if LATENT else []


wildcard_constraints:
    split="|".join(jobs_latent.SPLITS),
    state="|".join(jobs_latent.STATES),
    reducer="|".join(jobs_latent.REDUCERS),
    backbone=names_pattern(LATENT_BACKBONES),


rule latent_items:
    input:
        lambda wildcards: f"results/datasets/{jobs_latent.source_dataset(config, wildcards.split)}",
    output:
        directory("results/latent/items/{split}"),
    params:
        settings=LATENT.get("items"),
        seed=lambda wildcards: jobs_latent.seed(config, "items", wildcards.split),
    log:
        "logs/latent_items/{split}.log",
    conda:
        ENV
    script:
        "../scripts/latent_items.py"


rule latent_features:
    input:
        dataset="results/latent/items/{split}",
        classifier=lambda wildcards: [jobs_latent.classifier(wildcards.backbone)] if wildcards.state == "finetuned" else [],
        weights=lambda wildcards: registry_weights(LATENT["backbones"][wildcards.backbone])
        if wildcards.state == "pretrained"
        else [],
    output:
        "results/latent/features/{backbone}/{state}/{split}.h5",
    params:
        backbone=lambda wildcards: LATENT["backbones"][wildcards.backbone],
        input_size=LATENT.get("input_size"),
        batch_size=LATENT.get("batch_size"),
        device=LATENT.get("device"),
        weights_dir=str(WEIGHTS_DIR),
    log:
        "logs/latent_features/{backbone}/{state}/{split}.log",
    threads: 2
    resources:
        mem_mb=lambda wildcards, attempt: 6000 * attempt,
    conda:
        ENV
    script:
        "../scripts/latent_features.py"


# One job per reduction: a seeded PaCMAP sets process-wide state (defectlab.latent.reduce undoes it, and a job
# of its own keeps it away from everything else).
rule latent_reduce:
    input:
        jobs_latent.features("{backbone}", "{state}", "{split}"),
    output:
        jobs_latent.embedding("{backbone}", "{state}", "{split}", "{reducer}"),
    params:
        reduce=lambda wildcards: LATENT["reduce"][wildcards.reducer],
        seed=lambda wildcards: jobs_latent.seed(config, "reduce", wildcards.reducer, wildcards.state, wildcards.split),
    log:
        "logs/latent_reduce/{backbone}/{state}/{split}-{reducer}.log",
    conda:
        ENV
    script:
        "../scripts/latent_reduce.py"


rule latent_screen:
    input:
        features=jobs_latent.features(jobs_latent.analysed(config), "pretrained", "train") if LATENT else [],
        pacmap=jobs_latent.embedding(jobs_latent.analysed(config), "pretrained", "train", "pacmap") if LATENT else [],
        dataset="results/latent/items/train",
    output:
        table=jobs_latent.screen("items"),
        silhouette=jobs_latent.screen("silhouette"),
        anomalies=jobs_latent.screen("anomalies"),
        pacmap=jobs_latent.screen("pacmap-clusters"),
    params:
        latent=LATENT,
        seed=jobs_latent.seed(config, "screen"),
    log:
        "logs/latent_screen.log",
    conda:
        ENV
    script:
        "../scripts/latent_screen.py"


# The checkpoint beside the weights is no output: a killed job resumes from it.
rule train_classifier:
    input:
        train="results/latent/items/train",
        val="results/latent/items/val",
        screen=jobs_latent.screen("items"),
        weights=lambda wildcards: registry_weights(LATENT["backbones"][wildcards.backbone]),
    output:
        jobs_latent.classifier("{backbone}"),
    params:
        backbone=lambda wildcards: LATENT["backbones"][wildcards.backbone],
        classes=LATENT.get("items", {}).get("curated"),
        finetune=LATENT.get("finetune"),
        device=LATENT.get("device"),
        seed=lambda wildcards: jobs_latent.seed(config, "finetune", wildcards.backbone),
        weights_dir=str(WEIGHTS_DIR),
    log:
        "logs/train_classifier/{backbone}.log",
    benchmark:
        "results/benchmarks/train_classifier/{backbone}.tsv"
    threads: 2
    resources:
        gpu=1,
        mem_mb=lambda wildcards, attempt: 8000 * attempt,
        runtime=lambda wildcards, attempt: 120 * attempt,
    conda:
        ENV
    script:
        "../scripts/train_classifier.py"


rule latent_evaluate:
    input:
        val=jobs_latent.features(jobs_latent.analysed(config), "finetuned", "val") if LATENT else [],
        test=jobs_latent.features(jobs_latent.analysed(config), "finetuned", "test") if LATENT else [],
        val_pretrained=jobs_latent.features(jobs_latent.analysed(config), "pretrained", "val") if LATENT else [],
        val_items="results/latent/items/val",
        test_items="results/latent/items/test",
    output:
        metrics=jobs_latent.evaluation("metrics"),
        clusters=jobs_latent.evaluation("clusters"),
        review=jobs_latent.evaluation("review"),
        automatic=jobs_latent.evaluation("automatic"),
    params:
        latent=LATENT,
        seed=jobs_latent.seed(config, "evaluate"),
    log:
        "logs/latent_evaluate.log",
    conda:
        ENV
    script:
        "../scripts/latent_evaluate.py"


rule latent_report:
    input:
        screen=[jobs_latent.screen(name) for name in ("items", "silhouette", "anomalies", "pacmap-clusters")],
        evaluation=[jobs_latent.evaluation(name) for name in ("metrics", "clusters", "review", "automatic")],
        classifiers=[jobs_latent.classifier(name) for name in LATENT_BACKBONES],
        train_embeddings=[
            jobs_latent.embedding(jobs_latent.analysed(config), "pretrained", "train", r) for r in jobs_latent.REDUCERS
        ]
        if LATENT
        else [],
        val_embeddings=[
            jobs_latent.embedding(jobs_latent.analysed(config), "finetuned", "val", r) for r in jobs_latent.REDUCERS
        ]
        if LATENT
        else [],
        train_items="results/latent/items/train",
        val_items="results/latent/items/val",
        test_items="results/latent/items/test",
    output:
        **{
            name: report(path, category="Latent space", caption=f"../report/latent-{name}.rst")
            for name, path in jobs_latent.report_files().items()
        },
    params:
        latent=LATENT,
        backbones=LATENT_BACKBONES,
        analysed=jobs_latent.analysed(config) if LATENT else None,
    log:
        "logs/latent_report.log",
    conda:
        ENV
    script:
        "../scripts/latent_report.py"
