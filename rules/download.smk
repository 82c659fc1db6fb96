# Real data: download (local rules: they run where the network is, e.g. a login node), verified extraction,
# conversion into the common layout (per category where the dataset has categories), and the split a
# dataset of the config takes from the conversion.


localrules:
    download,
    extract,
    weights,


wildcard_constraints:
    entry=names_pattern(e.name for e in REGISTRY if e.kind == "dataset"),


rule download:
    output:
        "resources/downloads/{entry}/{file}",
    params:
        registry=REGISTRY_PATH,
    log:
        "logs/download/{entry}/{file}.log",
    conda:
        ENV
    script:
        "../scripts/download.py"


# A checkpoint: a convert job's input is then the very folder it reads (one category of the extraction, see
# `extracted`), so a copy placed under resources/extracted/<entry>/ is used as it is and an edit to one
# category reconverts only that one. The archives are verified (size, SHA-256) first, however they got there.
checkpoint extract:
    input:
        lambda wildcards: archives(wildcards.entry),
    output:
        directory("resources/extracted/{entry}"),
    params:
        registry=REGISTRY_PATH,
    log:
        "logs/extract/{entry}.log",
    conda:
        ENV
    script:
        "../scripts/extract.py"


# One category of an entry whose converter has categories (MVTec AD, DAGM 2007) ...
rule convert:
    input:
        extracted,
    output:
        directory("resources/converted/{entry}/{category}"),
    wildcard_constraints:
        entry=dataset_entries(with_categories=True),
        category=NAME_PATTERN,
    params:
        converter=lambda wildcards: REGISTRY[wildcards.entry].converter,
        options=lambda wildcards: options(wildcards.entry),
    log:
        "logs/convert/{entry}/{category}.log",
    conda:
        ENV
    script:
        "../scripts/convert.py"


# ... or the whole entry, for a dataset without categories.
rule convert_entry:
    input:
        extracted,
    output:
        directory("resources/converted/{entry}"),
    wildcard_constraints:
        entry=dataset_entries(with_categories=False),
    params:
        converter=lambda wildcards: REGISTRY[wildcards.entry].converter,
        options=lambda wildcards: options(wildcards.entry),
    log:
        "logs/convert/{entry}.log",
    conda:
        ENV
    script:
        "../scripts/convert.py"


# The images of one split (and objects) of the conversions a dataset names, their indexes merged.
rule select_dataset:
    input:
        converted_folders,
    output:
        directory("results/datasets/{dataset}"),
    wildcard_constraints:
        dataset=names_pattern(n for n in config["datasets"] if converted(n)),
    params:
        source=lambda wildcards: config["datasets"][wildcards.dataset]["source"],
        split=lambda wildcards: config["datasets"][wildcards.dataset]["split"],
    log:
        "logs/select_dataset/{dataset}.log",
    conda:
        ENV
    script:
        "../scripts/select_dataset.py"


rule weights:
    output:
        f"{WEIGHTS_DIR}/{{file}}",
    params:
        registry=REGISTRY_PATH,
    log:
        "logs/weights/{file}.log",
    conda:
        ENV
    script:
        "../scripts/download_weights.py"
