# Generator `clutch`: a machined part rendered with Blender from every view of its plan, one Blender job per
# object (so a cluster renders objects in parallel), the objects assembled into one dataset in the common
# layout, and the gallery of the clutch datasets (views, masks, one view per texture).
from defectlab.synth.clutch_plan import gallery_datasets as clutch_gallery_datasets

CLUTCH_GALLERY = clutch_gallery_datasets(config["datasets"])  # the first clutch dataset with defects, and the others


rule render_clutch:
    output:
        directory("results/renders/{dataset}/object-{object}"),
    wildcard_constraints:
        dataset=names_pattern(generated_by("clutch")),
        object=r"\d+",
    params:
        spec=lambda wildcards: dataset_spec(wildcards.dataset),
        render=config["render"],
        seed=config["seed"],
    log:
        "logs/render_clutch/{dataset}/object-{object}.log",
    benchmark:
        "results/benchmarks/render_clutch/{dataset}/object-{object}.tsv"
    threads: 2
    resources:
        mem_mb=4000,
    conda:
        ENV
    script:
        "../scripts/render_clutch.py"


rule clutch_dataset:
    input:
        lambda wildcards: expand(
            "results/renders/{dataset}/object-{object}",
            dataset=wildcards.dataset,
            object=range(config["datasets"][wildcards.dataset]["count"]),
        ),
    output:
        directory("results/datasets/{dataset}"),
    wildcard_constraints:
        dataset=names_pattern(generated_by("clutch")),
    log:
        "logs/dataset/{dataset}.log",
    conda:
        ENV
    script:
        "../scripts/assemble_dataset.py"


rule clutch_gallery:
    input:
        expand("results/datasets/{dataset}", dataset=CLUTCH_GALLERY),
    output:
        report("results/figures/clutch-gallery.png", category="Figures", caption="../report/clutch-gallery.rst"),
    params:
        datasets=CLUTCH_GALLERY,
    log:
        "logs/clutch_gallery.log",
    conda:
        ENV
    script:
        "../scripts/clutch_gallery.py"
