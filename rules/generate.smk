# The 2-D generators, one cheap job per dataset: `chess` and `noise` of the autoencoder study
# (defectlab.synth.procedural) with their gallery (a normal image, its anomalous twin and the mask, per
# generator), and `boards`, the kitchen boards of the CutPaste thesis (defectlab.synth.boards).
from defectlab.synth.procedural import gallery_datasets
from defectlab.synth.boards import gallery_datasets as boards_gallery_datasets

PROCEDURAL_GALLERY = gallery_datasets(config["datasets"])  # generator -> its first anomalous dataset


rule generate:
    output:
        directory("results/datasets/{dataset}"),
    wildcard_constraints:
        dataset=names_pattern(generated_by("chess") + generated_by("noise") + generated_by("boards")),
    params:
        spec=lambda wildcards: dataset_spec(wildcards.dataset),
        seed=config["seed"],
    log:
        "logs/generate/{dataset}.log",
    benchmark:
        "results/benchmarks/generate/{dataset}.tsv"
    conda:
        ENV
    script:
        "../scripts/generate.py"


rule procedural_gallery:
    input:
        **{generator: f"results/datasets/{name}" for generator, name in PROCEDURAL_GALLERY.items()},
    output:
        report(
            "results/figures/procedural-gallery.png",
            category="Figures",
            caption="../report/procedural-gallery.rst",
        ),
    params:
        datasets=PROCEDURAL_GALLERY,
        specs={generator: dataset_spec(name) for generator, name in PROCEDURAL_GALLERY.items()},
        seed=config["seed"],
    log:
        "logs/procedural_gallery.log",
    conda:
        ENV
    script:
        "../scripts/procedural_gallery.py"


BOARDS_GALLERY = boards_gallery_datasets(config["datasets"])  # category -> its anomalous (and normal) boards dataset
BOARDS_GALLERY_INPUTS = {
    f"{category}_{role}": name for category, names in BOARDS_GALLERY.items() for role, name in names.items() if name
}


rule boards_gallery:
    input:
        **{key: f"results/datasets/{name}" for key, name in BOARDS_GALLERY_INPUTS.items()},
    output:
        report("results/figures/boards-gallery.png", category="Figures", caption="../report/boards-gallery.rst"),
    params:
        datasets=BOARDS_GALLERY,
        specs={name: dataset_spec(name) for name in BOARDS_GALLERY_INPUTS.values()},
        seed=config["seed"],
    log:
        "logs/boards_gallery.log",
    conda:
        ENV
    script:
        "../scripts/boards_gallery.py"
