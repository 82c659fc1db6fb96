"""Gallery of the CutPaste augmentations (after the thesis's Fig. 5.3, "Different scenarios of the augmented
images"): one row per normal patch, the patch itself and then its augmented version per augmentation, the
footprint of the change outlined over it if asked."""

from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from defectlab.models.cutpaste.augment import CUSTOM_KINDS, AugmentSettings, augment_batch  # noqa: E402

PANEL = 1.6  # inches per patch panel
OUTLINE = (0.0, 0.85, 1.0)


def cutpaste_gallery_figure(
    patches: np.ndarray,
    kinds: Sequence[str] = CUSTOM_KINDS,
    seed: int = 0,
    settings: AugmentSettings | None = None,
    outline: bool = True,
) -> plt.Figure:
    """Rows: the (N, H, W, 3) uint8 normal patches; columns: the patch, then one augmented copy per kind (sample i
    seeded as in training, `augment_batch(patches, kind, seed)`), the footprint outlined when `outline`."""
    patches = np.asarray(patches)
    if patches.ndim != 4 or len(patches) == 0:
        raise ValueError(f"the gallery needs (N, H, W, 3) patches, got shape {patches.shape}")
    augmented = {kind: augment_batch(patches, kind, seed, 0, settings) for kind in kinds}
    rows, cols = len(patches), 1 + len(kinds)
    figure, axes = plt.subplots(rows, cols, figsize=(PANEL * cols, PANEL * rows + 0.4), squeeze=False)
    for i, patch in enumerate(patches):
        panels = [("normal", patch, None)] + [(k, augmented[k][0][i], augmented[k][1][i]) for k in kinds]
        for axis, (title, image, footprint) in zip(axes[i], panels, strict=True):
            axis.imshow(image, interpolation="nearest")
            if outline and footprint is not None and footprint.any():
                axis.contour(footprint, levels=[0.5], colors=[OUTLINE], linewidths=0.6)
            if i == 0:
                axis.set_title(title.replace("_", " "), fontsize=9)
            axis.set_xticks([])
            axis.set_yticks([])
    figure.suptitle("CutPaste augmentations (footprint outlined)" if outline else "CutPaste augmentations")
    figure.tight_layout()
    return figure
