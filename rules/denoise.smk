# Denoised twins: a dataset with `denoise_of` is that dataset (generated or converted) with every image passed
# through OpenCV's fastNlMeansDenoisingColored (the kitchen-board thesis's "blur", defectlab.data.denoise); its
# masks, instances, exclusions.json and index are the source's, the index records the parameters.


rule denoise:
    input:
        lambda wildcards: f"results/datasets/{config['datasets'][wildcards.dataset]['denoise_of']}",
    output:
        directory("results/datasets/{dataset}"),
    wildcard_constraints:
        dataset=names_pattern(n for n in config["datasets"] if denoised(n)),
    params:
        source=lambda wildcards: config["datasets"][wildcards.dataset]["denoise_of"],
        denoise=lambda wildcards: config["datasets"][wildcards.dataset]["denoise"],
    log:
        "logs/denoise/{dataset}.log",
    benchmark:
        "results/benchmarks/denoise/{dataset}.tsv"
    threads: 2
    conda:
        ENV
    script:
        "../scripts/denoise.py"
