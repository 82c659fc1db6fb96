"""The CutPaste gallery: a grid of rows × (1 + kinds) panels, written as a non-blank PNG of the size it says."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
from PIL import Image

from defectlab.models.cutpaste.augment import CUSTOM_KINDS
from defectlab.report.cutpaste_gallery import PANEL, cutpaste_gallery_figure


def test_the_gallery_has_a_panel_per_patch_and_kind_and_is_written(tmp_path):
    patches = np.random.default_rng(0).integers(90, 170, (2, 224, 224, 3)).astype(np.uint8)
    figure = cutpaste_gallery_figure(patches, seed=3)
    assert len(figure.axes) == 2 * (1 + len(CUSTOM_KINDS))
    assert [a.get_title() for a in figure.axes[:5]] == ["normal", "scar", "black dot", "white dot", "arc scar"]
    assert figure.get_size_inches()[0] == pytest.approx(PANEL * 5)
    path = tmp_path / "gallery.png"
    figure.savefig(path, dpi=60)
    plt.close(figure)
    pixels = np.asarray(Image.open(path).convert("L"))
    assert pixels.shape[1] == round(PANEL * 5 * 60) and pixels.std() > 10
    with pytest.raises(ValueError, match="patches"):
        cutpaste_gallery_figure(patches[0])
