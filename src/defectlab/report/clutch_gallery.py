"""Gallery of the synthetic clutch (seed 004, after the paper's Figs. 1 and 5): the views of a defective object
with the most defect pixels, each beside its class mask over the image (defects boxed: they are a few pixels
at this scale), one view per machining texture (the view that shows most of it), and a view of the real-like
stand-in when the run renders one."""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from defectlab.classes import CLASSES, DEFECT_INDICES  # noqa: E402
from defectlab.data.layout import Sample, load_sample, read_index  # noqa: E402
from defectlab.report.boards_gallery import bare, instance_boxes, overlay  # noqa: E402
from defectlab.report.figures import CLASS_COLOURS  # noqa: E402
from defectlab.synth.clutch_plan import REGIONS  # noqa: E402

TEXTURES = REGIONS[:4]  # the four machining textures; the transition is a thin band
VIEWS_SHOWN = 4


@dataclass(frozen=True)
class Shown:
    title: str
    sample: Sample
    masked: bool  # draw the class mask over it


def defect_pixels(root: Path, index: pd.DataFrame) -> pd.Series:
    """Defect pixels per image of `index` (read from the masks)."""
    counts = {}
    for image_id in index["id"]:
        mask = load_sample(root, image_id).mask
        counts[image_id] = int(np.isin(mask, DEFECT_INDICES).sum())
    return pd.Series(counts)


def choose(roots: Sequence[Path]) -> list[Shown]:
    """The panels: views of the first dataset's most defective object, its texture views, a stand-in view."""
    root = roots[0]
    index = read_index(root)
    defective = index[index["defective"]]
    pixels = defect_pixels(root, defective)
    best = defective.assign(pixels=defective["id"].map(pixels))
    chosen = best[best["object"] == best.groupby("object")["pixels"].sum().idxmax()]
    shown = []
    for _, row in chosen.nlargest(VIEWS_SHOWN, "pixels").sort_values("view").iterrows():
        sample = load_sample(root, row["id"])
        title = f"{row['id']} ({row['pixels']} defect px)"
        shown += [Shown(title, sample, False), Shown("mask", sample, True)]
    for texture in TEXTURES:
        row = index.loc[index[f"px_{texture}"].idxmax()]
        share = row[f"px_{texture}"] / (row[[f"px_{r}" for r in REGIONS]].sum() or 1)
        shown.append(Shown(f"{texture}: {row['id']} ({share:.0%} of the part)", load_sample(root, row["id"]), False))
    for other in roots[1:]:
        other_index = read_index(other)
        row = other_index.iloc[len(other_index) // 2]
        shown.append(Shown(f"stand-in {row['id']}", load_sample(other, row["id"]), True))
    return shown


def clutch_gallery_figure(shown: Sequence[Shown], columns: int = 4) -> plt.Figure:
    rows = -(-len(shown) // columns)
    height, width = shown[0].sample.mask.shape
    figure, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 3.2 * rows * height / width + 0.3 * rows))
    present = set()
    for axis, panel in zip(np.ravel(axes), shown, strict=False):
        axis.imshow(panel.sample.image, cmap="gray")
        if panel.masked:
            mask = panel.sample.mask
            axis.imshow(overlay(mask, mask.shape), interpolation="nearest")
            for _number, name, (r, c), _pixels in instance_boxes(mask, panel.sample.instances):
                pad = 4
                axis.add_patch(
                    plt.Rectangle(
                        (c.start - pad, r.start - pad),
                        c.stop - c.start + 2 * pad,
                        r.stop - r.start + 2 * pad,
                        fill=False,
                        edgecolor=CLASS_COLOURS[name],
                        lw=0.8,
                    )
                )
            present |= {int(v) for v in np.unique(mask) if v}
        axis.set_title(panel.title, fontsize=7)
    for axis in np.ravel(axes):
        bare(axis)
        if not axis.images:
            axis.axis("off")
    handles = [Patch(color=CLASS_COLOURS[CLASSES[i].name], label=CLASSES[i].name) for i in sorted(present)]
    if handles:
        figure.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8, frameon=False)
    figure.tight_layout(rect=(0, 0.03, 1, 1))
    return figure
