import copy

import numpy as np
import pandas as pd
import pytest
import torch
from coreset_reference import reference

from defectlab.data.patch_store import PatchGrid, write_patch_store
from defectlab.features.backbones import build_extractor
from defectlab.patchcore.greedy import fit_greedy
from defectlab.patchcore.inference import score_store
from defectlab.patchcore.training import fit_coreset, pretrained_ids, stream, stream_origins


@pytest.fixture(scope="module")
def extractor():
    torch.manual_seed(0)
    return build_extractor(weights="none", layers=(1, 2))


def epoch_stream(extractor, stores) -> tuple[np.ndarray, np.ndarray]:
    rows, ids = zip(*stream(extractor, stores, 3), strict=True)
    return torch.cat(rows).numpy(), torch.cat(ids).numpy()


def test_epochs_over_the_stores_follow_the_rule(extractor, stores):
    rows, ids = epoch_stream(extractor, stores)
    coreset, log = fit_coreset(extractor, stores, size=12, max_epochs=4, batch_size=3, device="cpu")
    expected_points, expected_ids, replaced = reference(np.tile(rows, (4, 1)), 12, np.tile(ids, 4))
    assert coreset.origin.tolist() == expected_ids.tolist()
    np.testing.assert_allclose(coreset.features.numpy(), expected_points, rtol=1e-6)
    assert sum(log.replacements) == replaced > 0
    assert log.min_distance == sorted(log.min_distance)  # d_m never decreases
    assert len(log.replacements) == 4 or log.replacements[-1] == 0


def test_fine_tuning_continues_the_rule_from_the_pretrained_points(extractor, stores):
    pretrained, _ = fit_coreset(extractor, stores[:1], size=10, max_epochs=2, batch_size=3, device="cpu")
    points = pretrained.features
    tuned, log = fit_coreset(extractor, stores[1:], 10, 2, 3, "cpu", pretrained=points)
    rows, ids = epoch_stream(extractor, stores[1:])
    stream_rows = np.concatenate([points.numpy(), rows, rows])
    stream_ids = np.concatenate([pretrained_ids(10).numpy(), ids, ids])
    expected_points, expected_ids, replaced = reference(stream_rows, 10, stream_ids)
    assert tuned.origin.tolist() == expected_ids.tolist()
    np.testing.assert_allclose(tuned.features.numpy(), expected_points, rtol=1e-6)
    assert sum(log.replacements) == replaced
    kept = tuned.origin[tuned.origin < 0]
    assert 0 < len(kept) < 10  # some pretrained points survive, some are replaced by the new data


def test_origins_name_the_cell_centre_and_follow_pretrained_points(extractor, stores):
    grid = 32 // extractor.stride
    pretrained = pd.DataFrame({"dataset": ["old"] * 2, "image": ["a", "b"], "x": [1, 2], "y": [3, 4]})
    ids = np.array([grid * grid + grid + 1, -2, 0, 5 * grid * grid])  # patch 1 cell (1, 1); old b; first; store 2
    origin = stream_origins(ids, stores, ["ds0", "ds1"], extractor, pretrained)
    half = extractor.stride // 2
    assert origin.values.tolist() == [
        ["ds0", "s-1", extractor.stride + half, extractor.stride + half],
        ["old", "b", 2, 4],
        ["ds0", "s-0", half, half],
        ["ds1", "s-0", half, half],
    ]


@pytest.fixture(scope="module")
def broken_extractor(extractor):
    """The extractor with a NaN weight, as a corrupt weights file would give."""
    broken = copy.deepcopy(extractor)
    next(broken.parameters()).data.view(-1)[0] = float("nan")
    return broken


def test_nan_features_are_refused_naming_the_store_and_the_patch(broken_extractor, stores):
    message = rf"{stores[0]}: the backbone gives NaN or inf features for patch 0 \(image s-0, x 0, y 0\)"
    with pytest.raises(ValueError, match=message):
        fit_coreset(broken_extractor, stores, size=4, max_epochs=1, batch_size=3, device="cpu")
    with pytest.raises(ValueError, match=message):
        score_store(broken_extractor, stores[0], torch.zeros(2, broken_extractor.dim), 64, 3, sigma=0)


def test_stores_without_patches_give_no_coreset(extractor, tiny_dataset, tmp_path):
    empty = tmp_path / "shard-0.h5"
    write_patch_store(empty, tiny_dataset, ["s-0"], PatchGrid(32, 32), 255)  # not training: may stay empty
    message = rf"patch stores \[{empty}\] hold no patch, so there is no feature to build a coreset from"
    with pytest.raises(ValueError, match=message):
        fit_coreset(extractor, [empty], size=4, max_epochs=1, batch_size=3, device="cpu")
    with pytest.raises(ValueError, match=message):
        fit_greedy(extractor, [empty], size=4, batch_size=3, device="cpu")
