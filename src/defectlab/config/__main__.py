"""Check config files without running Snakemake: `python -m defectlab.config a.yaml [b.yaml ...]`.

The same checks as the workflow's start-up, merged in order like `--configfile a.yaml b.yaml`. Useful
where Snakemake reads a `--configfile` itself and reports a YAML syntax error without file or line.
"""

import argparse
import sys
from pathlib import Path

from snakemake.utils import update_config

from defectlab.config import check_config, check_files, check_schema, fill_defaults, read_config_file
from defectlab.config.sections import load_schema
from defectlab.data.converters import check_dataset_sources, check_options
from defectlab.data.registry import DEFAULT_REGISTRY, load_registry

SCHEMA = Path(__file__).resolve().parents[3] / "config" / "schema" / "config.schema.yaml"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m defectlab.config", description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path, help="config files, later ones overriding earlier ones")
    args = parser.parse_args(argv)
    try:
        where = check_files(args.files)
        config: dict = {}
        for path in args.files:
            update_config(config, read_config_file(path)[0])
        moved = check_schema(config, where, SCHEMA)
        fill_defaults(config, load_schema(SCHEMA))
        registry = load_registry(config.get("registry", DEFAULT_REGISTRY))
        known = {a.file for e in registry if e.kind == "weights" for a in e.archives}
        warnings = check_config(config, where, weights_dir=registry.weights_dir, known_weights=known)
        check_options(config["sources"], registry)
        check_dataset_sources(config["datasets"], registry)
    except ValueError as error:  # ConfigError, ConfigFileError and the real-data checks' refusals
        print(error, file=sys.stderr)
        return 1
    for warning in [*moved, *warnings]:
        print(f"warning: config: {warning}", file=sys.stderr)
    print(f"config OK: {' + '.join(map(str, args.files))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
