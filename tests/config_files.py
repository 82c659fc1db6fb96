"""A run config as the workflow checks it at start-up, for the tests of the checks."""

from pathlib import Path

import yaml
from snakemake.utils import update_config

from defectlab.config import check_config, check_files, check_schema, fill_defaults
from defectlab.data.registry import load_registry

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "config/schema/config.schema.yaml"
REGISTRY = load_registry(REPO / "config/registry.yaml")
KNOWN_WEIGHTS = {a.file for e in REGISTRY if e.kind == "weights" for a in e.archives}


def checked(tmp_path: Path, override: dict | str, base: Path, backbone: bool = True) -> tuple[dict, list[str]]:
    """The config `base` with `override` (a mapping, or YAML text) given as a second config file, through the
    start-up checks (with `backbone`, the backbones built on the meta device): (config with defaults, warnings)."""
    extra = tmp_path / "override.yaml"
    extra.write_text(override if isinstance(override, str) else yaml.safe_dump(override, sort_keys=False))
    files = [base, extra]
    where = check_files(files)
    config: dict = {}
    for path in files:
        update_config(config, yaml.safe_load(path.read_text()) or {})
    warnings = check_schema(config, where, SCHEMA)
    fill_defaults(config, yaml.safe_load(SCHEMA.read_text()))
    weights = {"weights_dir": REGISTRY.weights_dir, "known_weights": KNOWN_WEIGHTS}
    warnings += check_config(config, where, **weights, backbone=backbone)
    return config, warnings
