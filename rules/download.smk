# Real data: download (local rules: they run where the network is, e.g. a login node), safe extraction,
# conversion into the common layout, and the split a dataset of the config takes from the conversion.


localrules:
    download,
    extract,
    weights,


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


rule extract:
    input:
        lambda wildcards: archives(wildcards.entry),
    output:
        directory("resources/extracted/{entry}"),
    log:
        "logs/extract/{entry}.log",
    conda:
        ENV
    script:
        "../scripts/extract.py"


rule convert:
    input:
        "resources/extracted/{entry}",
    output:
        directory("resources/converted/{entry}"),
    params:
        converter=lambda wildcards: REGISTRY[wildcards.entry].converter,
        options=lambda wildcards: config["sources"].get(wildcards.entry, {}),
    log:
        "logs/convert/{entry}.log",
    conda:
        ENV
    script:
        "../scripts/convert.py"


rule select_dataset:
    input:
        lambda wildcards: f"resources/converted/{config['datasets'][wildcards.dataset]['source']['entry']}",
    output:
        directory("results/datasets/{dataset}"),
    wildcard_constraints:
        dataset=datasets_pattern(converted_ones=True),
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
