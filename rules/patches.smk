# Patches: each dataset cut into tiles, dark tiles dropped, one HDF5 patch store per shard; the top-level
# `patches` with the dataset's own `patches` block over it (a training dataset's stride, say).
from defectlab.config.sections import patch_settings


rule patches:
    input:
        "results/datasets/{dataset}",
    output:
        "results/patches/{dataset}/shard-{shard}.h5",
    params:
        patches=lambda wildcards: patch_settings(config, wildcards.dataset),
    log:
        "logs/patches/{dataset}/shard-{shard}.log",
    conda:
        ENV
    script:
        "../scripts/patches.py"


rule patch_statistics:
    input:
        "results/datasets/{dataset}",
    output:
        "results/patches/{dataset}/statistics.json",
    params:
        # the top-level grid (the thesis: 224 pixels at stride 112), whatever the dataset's own stride
        patches=config["patches"],
    log:
        "logs/patch_statistics/{dataset}.log",
    conda:
        ENV
    script:
        "../scripts/patch_statistics.py"
