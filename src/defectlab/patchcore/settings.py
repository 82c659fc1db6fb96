"""Extractor construction from the config's `backbone` section, shared by coreset and scoring jobs."""

from collections.abc import Sequence
from pathlib import Path

from defectlab.data.statistics import pooled_statistics
from defectlab.features.backbones import FeatureExtractor, build_extractor


def extractor_from_config(
    backbone: dict,
    device: str,
    weights_dir: str | Path | None = None,
    statistics: Sequence[str | Path] = (),
) -> FeatureExtractor:
    """The extractor of a `backbone` section; `weights_dir` holds the registry's weight files; `statistics` the
    patch statistics files whose pooled mean and std normalise the inputs (none: the weights' own)."""
    return build_extractor(
        name=backbone["name"],
        layers=tuple(backbone["layers"]),
        weights=backbone["weights"],
        pool=backbone["pool"],
        device=device,
        weights_dir=None if weights_dir is None else Path(weights_dir),
        aggregation=backbone.get("aggregation", "same"),
        statistics=pooled_statistics(list(statistics)),
    )


def backbone_attrs(backbone: dict, statistics: Sequence[str | Path] = ()) -> dict:
    """The backbone settings as HDF5 attributes, so a coreset says how its features were made."""
    pooled = pooled_statistics(list(statistics))
    return {
        "backbone": backbone["name"],
        "layers": list(backbone["layers"]),
        "weights": backbone["weights"],
        "pooling": backbone["pool"],
        "aggregation": backbone.get("aggregation", "same"),
        "normalisation": "weights" if pooled is None else f"train: mean {pooled[0]}, std {pooled[1]}",
    }
