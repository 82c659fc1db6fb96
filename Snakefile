# defectlab: render or download datasets, cut patches, build Sequential PatchCore coresets,
# evaluate and report. `snakemake --profile profiles/local` runs config/config.yaml.
from pathlib import Path

from snakemake.utils import min_version, validate

from defectlab.config import check_files, check_schema

min_version("9.0")

DEFAULT_CONFIG = "config/config.yaml"
SCHEMA = str(Path(workflow.basedir) / "config/schema/config.schema.yaml")


# config/config.yaml unless config files are given (--configfile a.yaml [b.yaml ...], merged in order):
# a study config then stands alone instead of adding to the default run's datasets and experiments.
# Every file is read strictly first: a syntax error or a key given twice is refused with its line.
if not workflow.overwrite_configfiles:
    if Path(DEFAULT_CONFIG).exists():
        check_files([DEFAULT_CONFIG])

    configfile: DEFAULT_CONFIG


CONFIG_KEYS = check_files(workflow.configfiles)  # where each key was given, for the later checks' messages
check_schema(config, CONFIG_KEYS, SCHEMA)
validate(config, SCHEMA, set_default=True)


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/render.smk"
include: "rules/download.smk"
include: "rules/patches.smk"
include: "rules/coreset.smk"
include: "rules/evaluate.smk"
include: "rules/report.smk"


rule all:
    input:
        "results/tables/metrics.parquet",
        "results/tables/summary.md",
        ["results/figures/plates-gallery.png"] if gallery_plate() else [],
        "results/tables/table1.md",
        "results/tables/table2.md",
        "results/figures/coverage-sweep.png",
        expand("results/datasets/{dataset}", dataset=config["datasets"]),
        expand("results/figures/{experiment}-examples.png", experiment=config["experiments"]),
        expand("results/figures/{experiment}-coreset.png", experiment=training_experiments()),
    default_target: True
