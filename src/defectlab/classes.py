"""The class map shared by every dataset: one index per class, each a defect or an impurity."""

from dataclasses import dataclass


@dataclass(frozen=True)
class SurfaceClass:
    index: int
    name: str
    category: str  # "background", "defect" or "impurity"


CLASSES: tuple[SurfaceClass, ...] = (
    SurfaceClass(0, "background", "background"),
    SurfaceClass(1, "scratch", "defect"),
    SurfaceClass(2, "dent", "defect"),
    SurfaceClass(3, "bump", "defect"),
    SurfaceClass(4, "water_stain", "impurity"),
    SurfaceClass(5, "fingerprint", "impurity"),
    SurfaceClass(6, "sticker", "impurity"),
    # Real datasets mark defects of kinds the plates lack (cracks, blowholes, MVTec's bent wires ...), or of
    # no named kind (KolektorSDD2, DAGM 2007): one more defect class. Not "defect": the metrics already use
    # that name for their binary-task rows. A converted dataset's own label stays in its index.
    SurfaceClass(7, "other_defect", "defect"),
    # The kitchen boards (seed 002): the thesis's anomaly kinds beside bump, and the small black specks the
    # manufacturer does not count as defects (in the image, never in the binary ground truth).
    SurfaceClass(8, "black_hole", "defect"),
    SurfaceClass(9, "splash", "defect"),
    SurfaceClass(10, "white_scar", "defect"),
    SurfaceClass(11, "black_scar", "defect"),
    SurfaceClass(12, "irregular", "defect"),
    SurfaceClass(13, "dirt", "defect"),
    SurfaceClass(14, "speck", "impurity"),
    # The clutch (seed 004): minor irregularities near sharp edges, carved into the geometry like defects but
    # never counted as one; their own class so their false positives can be measured (the paper's section 6).
    SurfaceClass(15, "insignificant_defect", "impurity"),
)
OTHER_DEFECT = "other_defect"

BY_NAME = {c.name: c for c in CLASSES}
BY_INDEX = {c.index: c for c in CLASSES}
DEFECTS = tuple(c for c in CLASSES if c.category == "defect")
IMPURITIES = tuple(c for c in CLASSES if c.category == "impurity")
DEFECT_INDICES = tuple(c.index for c in DEFECTS)
IMPURITY_INDICES = tuple(c.index for c in IMPURITIES)


def class_index(name: str) -> int:
    """Index of a class by name, with the known names in the error."""
    try:
        return BY_NAME[name].index
    except KeyError:
        raise ValueError(f"unknown class {name!r}; known: {', '.join(BY_NAME)}") from None
