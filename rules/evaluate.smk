# Evaluate: whatever model made the maps, the threshold fitted by the experiment's rule (on val, or on test
# as an oracle) and the metrics of its unit on test, through the maps contract (defectlab.maps).


rule evaluate:
    input:
        unpack(evaluation_inputs),
    output:
        "results/metrics/{experiment}.parquet",
    params:
        val=lambda wildcards: config["experiments"][wildcards.experiment].get("val"),
        test=lambda wildcards: config["experiments"][wildcards.experiment]["test"],
        rule=lambda wildcards: config["experiments"][wildcards.experiment]["threshold"]["rule"],
        fit_on=lambda wildcards: config["experiments"][wildcards.experiment]["threshold"]["fit_on"],
        unit=lambda wildcards: config["experiments"][wildcards.experiment]["unit"],
        patch=lambda wildcards: config["experiments"][wildcards.experiment]["patch"],
    log:
        "logs/evaluate/{experiment}.log",
    conda:
        ENV
    script:
        "../scripts/evaluate.py"
