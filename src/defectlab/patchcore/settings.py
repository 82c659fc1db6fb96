"""Extractor construction from the config's `backbone` section, shared by coreset and scoring jobs."""

from pathlib import Path

from defectlab.features.backbones import FeatureExtractor, build_extractor


def extractor_from_config(backbone: dict, device: str, weights_dir: str | Path | None = None) -> FeatureExtractor:
    """The extractor of a `backbone` section; `weights_dir` holds the registry's weight files."""
    return build_extractor(
        name=backbone["name"],
        layers=tuple(backbone["layers"]),
        weights=backbone["weights"],
        pool=backbone["pool"],
        device=device,
        weights_dir=None if weights_dir is None else Path(weights_dir),
    )


def backbone_attrs(backbone: dict) -> dict:
    """The backbone settings as HDF5 attributes, so a coreset says how its features were made."""
    return {
        "backbone": backbone["name"],
        "layers": list(backbone["layers"]),
        "weights": backbone["weights"],
        "pooling": backbone["pool"],
    }
