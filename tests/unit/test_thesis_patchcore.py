"""PatchCore as the kitchen-board thesis configures it (seed 002 §4): ind_knn_ad's aggregation, the greedy coreset
by fraction with a JL projection from eps and row 0 first, the 3-NN reweighted patch score, the patch scores
carried by the maps contract into the patch unit."""

import math

import numpy as np
import pandas as pd
import pytest
import timm
import torch

from defectlab.data.exclusions import Exclusion, patch_positions
from defectlab.features.backbones import build_extractor
from defectlab.maps import read_maps, write_maps
from defectlab.metrics.patch import PatchGrid, split_patches
from defectlab.patchcore.greedy import GreedySize, greedy_coreset
from defectlab.patchcore.reweight import reweighted_scores
from defectlab.patchcore.scoring import nearest_points


def ind_knn_ad_score(patch: np.ndarray, library: np.ndarray, k: int = 3) -> float:
    """ind_knn_ad's PatchCore.forward for one patch, transcribed in NumPy float64 (seed 002 §4.2)."""
    dist = np.sqrt(((patch[:, None, :] - library[None, :, :]) ** 2).sum(-1))
    min_val, min_idx = dist.min(axis=1), dist.argmin(axis=1)
    s_idx = int(min_val.argmax())
    s_star = min_val[s_idx]
    m_test, m_star = patch[s_idx], library[min_idx[s_idx]]
    nn_idx = np.argsort(np.sqrt(((library - m_star) ** 2).sum(-1)), kind="stable")[:k]
    knn = np.sqrt(((m_test - library[nn_idx[1:]]) ** 2).sum(-1))
    d = math.sqrt(patch.shape[1])
    w = 1 - math.exp(s_star / d) / np.exp(knn / d).sum()
    return float(w * s_star)


@pytest.mark.parametrize("k", [2, 3, 5])
def test_reweighted_scores_equal_the_ind_knn_ad_reference(k):
    rng = np.random.default_rng(3)
    cells = rng.normal(size=(4, 9, 6))
    library = rng.normal(size=(40, 6))
    features, coreset = torch.from_numpy(cells), torch.from_numpy(library)
    distances, nearest = nearest_points(features.reshape(-1, 6), coreset)
    scores = reweighted_scores(distances.reshape(4, 9), nearest.reshape(4, 9), features, coreset, k)
    expected = [ind_knn_ad_score(patch, library, k) for patch in cells]
    np.testing.assert_allclose(scores.numpy(), expected, rtol=1e-12)
    assert (scores < distances.reshape(4, 9).max(dim=1).values).all()  # w < 1: the weight only lowers s*


def test_reweighting_refuses_a_coreset_smaller_than_k():
    features = torch.zeros(1, 4, 3)
    with pytest.raises(ValueError, match="needs a coreset of 3 points at least, got 2"):
        reweighted_scores(torch.zeros(1, 4), torch.zeros(1, 4, dtype=torch.int64), features, torch.ones(2, 3))


@pytest.mark.parametrize(
    ("fraction", "rows", "points"), [(0.01, 6255704, 62557), (0.01, 1910376, 19103), (0.01, 50, 1)]
)
def test_a_coreset_by_fraction_holds_int_fraction_times_n_points(fraction, rows, points):
    assert GreedySize(fraction=fraction).points(rows) == points  # the thesis's 62,557 and 19,103 (§4.1)


def test_the_projection_from_eps_is_the_johnson_lindenstrauss_dimension():
    for rows in (1000, 6255704):
        expected = int(4 * math.log(rows) / (0.9**2 / 2 - 0.9**3 / 3))  # §4.3: about 24.7 ln N
        assert GreedySize(size=4, eps=0.9).dimensions(rows) == expected
    assert GreedySize(size=4, projection=16).dimensions(10**6) == 16
    assert GreedySize.from_config({"size": 9, "fraction": 0.1, "eps": 0.5, "start": "first"}) == GreedySize(
        None, 0.1, 0, 0.5, "first"
    )


def test_start_first_begins_at_row_zero_and_random_at_the_seeded_draw():
    x = torch.from_numpy(np.random.default_rng(0).normal(size=(30, 4)))
    assert int(greedy_coreset(x, 5, start="first")[0]) == 0
    drawn = int(torch.randint(30, (1,), generator=torch.Generator().manual_seed(11))[0])
    assert int(greedy_coreset(x, 5, seed=11)[0]) == drawn != 0
    with pytest.raises(ValueError, match="start must be one of"):
        greedy_coreset(x, 5, start="last")


def test_ind_knn_ad_aggregation_is_unpadded_pooling_and_adaptive_alignment():
    extractor = build_extractor("resnet18", (2, 3), "none", 3, aggregation="ind_knn_ad")
    images = np.random.default_rng(1).integers(0, 256, size=(2, 224, 224, 3), dtype=np.uint8)
    features = extractor(images)
    assert tuple(features.shape) == (2, 128 + 256, 26, 26) and extractor.grid(224) == 26  # §4.1: 676 cells
    x = (torch.from_numpy(images).permute(0, 3, 1, 2).float() - extractor.mean) / extractor.std
    layer2, layer3 = extractor.model.forward_intermediates(x, indices=[2, 3], intermediates_only=True)
    expected = torch.cat(
        [torch.nn.AvgPool2d(3, 1)(layer2), torch.nn.AdaptiveAvgPool2d((26, 26))(torch.nn.AvgPool2d(3, 1)(layer3))], 1
    )
    torch.testing.assert_close(features, expected)
    assert extractor.cell_centre(0) == 8 + 4 and extractor.cell_centre(25) == 25 * 8 + 8 + 4  # 3 cells from 0


def test_own_statistics_replace_the_weights_normalisation():
    cfg = timm.models.get_pretrained_cfg("resnet18")
    images = np.full((1, 64, 64, 3), 120, np.uint8)
    default = build_extractor("resnet18", (1, 2), "none", 1)
    same = build_extractor("resnet18", (1, 2), "none", 1, statistics=(tuple(cfg.mean), tuple(cfg.std)))
    other = build_extractor("resnet18", (1, 2), "none", 1, statistics=((0.5, 0.5, 0.5), (0.25, 0.25, 0.25)))
    torch.testing.assert_close(default._normalise(images), same._normalise(images))
    torch.testing.assert_close(other._normalise(images), torch.full((1, 3, 64, 64), (120 / 255 - 0.5) / 0.25))
    assert not torch.allclose(default._normalise(images), other._normalise(images))


def test_patch_scores_go_through_the_maps_file_into_the_patch_unit(tmp_path):
    maps = np.zeros((2, 64, 64), np.float32)
    maps[1, 40:, 40:] = 5.0  # the map would rank the bottom-right patches of image b highest
    exclusion = Exclusion(borders=((0, 0, 64, 64),), labels=((0, 0, 10, 10),))
    grid = PatchGrid(size=32, stride=16)
    positions = patch_positions(exclusion, 32, 16)
    table = pd.DataFrame(
        [(image, x, y, float(k)) for image in ("a", "b") for k, (x, y) in enumerate(positions)],
        columns=["image", "x", "y", "score"],
    )
    write_maps(tmp_path / "m.h5", ["a", "b"], maps, model="m", score="s", made_from="test", patch_scores=table)
    read = read_maps([tmp_path / "m.h5"])
    pd.testing.assert_frame_equal(read.patch_scores, table, check_dtype=False)
    defects = np.zeros((2, 64, 64), bool)
    patches = split_patches(["a", "b"], read.maps, defects, grid, {"a": exclusion, "b": exclusion}, read.patch_scores)
    assert patches.scores.tolist() == [float(k) for k in range(len(positions))] * 2
    with pytest.raises(ValueError, match=r"not 1 of the 16 test patches \(b at x 32, y 32"):
        split_patches(["a", "b"], maps, defects, grid, {"a": exclusion, "b": exclusion}, table.iloc[:-1])


def test_patch_scores_of_unknown_images_or_scored_twice_are_refused(tmp_path):
    maps = np.zeros((1, 8, 8), np.float32)
    twice = pd.DataFrame({"image": ["a", "a"], "x": [0, 0], "y": [0, 0], "score": [1.0, 2.0]})
    with pytest.raises(ValueError, match="scored twice"):
        write_maps(tmp_path / "m.h5", ["a"], maps, model="m", score="s", made_from="t", patch_scores=twice)
    with pytest.raises(ValueError, match=r"images \[c\] that have no map"):
        unknown = twice.assign(image="c").iloc[:1]
        write_maps(tmp_path / "m.h5", ["a"], maps, model="m", score="s", made_from="t", patch_scores=unknown)
