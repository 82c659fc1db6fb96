# Patches: each dataset cut into tiles, dark tiles dropped, one HDF5 patch store per shard.


rule patches:
    input:
        "results/datasets/{dataset}",
    output:
        "results/patches/{dataset}/shard-{shard}.h5",
    params:
        patches=config["patches"],
    log:
        "logs/patches/{dataset}/shard-{shard}.log",
    conda:
        ENV
    script:
        "../scripts/patches.py"
