# defectlab: generate or download datasets, cut patches, run each experiment's model into maps, evaluate
# and report. `snakemake --profile profiles/local` runs config/config.yaml.
import sys
from pathlib import Path

from snakemake.utils import min_version

from defectlab.config import check_files, check_schema, fill_defaults
from defectlab.config.sections import load_schema

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
for warning in check_schema(config, CONFIG_KEYS, SCHEMA):
    print(f"warning: config: {warning}", file=sys.stderr)
fill_defaults(config, load_schema(SCHEMA))  # not snakemake's validate: it would fill experiments' overrides


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/plates.smk"
include: "rules/generate.smk"
include: "rules/clutch.smk"
include: "rules/download.smk"
include: "rules/denoise.smk"
include: "rules/patches.smk"
include: "rules/models/patchcore.smk"
include: "rules/models/autoencoder.smk"
include: "rules/models/cutpaste.smk"
include: "rules/models/baseline.smk"
include: "rules/models/segmentation.smk"
include: "rules/evaluate.smk"
include: "rules/latent.smk"
include: "rules/report.smk"


rule all:
    input:
        final_outputs(),
    default_target: True
