"""The maps contract: one writer, one reader, whatever model made the maps."""

import h5py
import numpy as np
import pytest

from defectlab.maps import read_maps, write_maps

ATTRS = {"model": "cae", "score": "squared residual"}


def test_maps_read_back_as_written_with_model_score_and_settings(tmp_path):
    maps = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    write_maps(tmp_path / "m.h5", ["a", "b"], maps, **ATTRS, settings={"sigma": 2}, made_from="a test")
    back = read_maps([tmp_path / "m.h5", tmp_path / "m.h5"])
    assert back.ids == ["a", "b", "a", "b"]
    np.testing.assert_array_equal(back.maps, np.concatenate([maps, maps]))
    assert (back.model, back.score, back.settings, back.scores) == ("cae", "squared residual", {"sigma": 2}, None)
    # no image scores of the model: each map's maximum
    np.testing.assert_array_equal(back.image_scores(), [11, 23, 11, 23])


def test_image_scores_of_the_model_are_kept_and_preferred(tmp_path):
    write_maps(tmp_path / "m.h5", ["a", "b"], np.zeros((2, 2, 2)), **ATTRS, scores=[0.5, -1.0], made_from="t")
    back = read_maps([tmp_path / "m.h5"])
    np.testing.assert_array_equal(back.image_scores(), [0.5, -1.0])
    assert back.maps.dtype == np.float32


def test_maps_with_nan_are_refused_naming_what_they_were_made_from(tmp_path):
    maps = np.zeros((3, 2, 2), np.float32)
    maps[1, 0, 0] = np.nan
    maps[2, 1, 1] = -np.inf
    message = (
        r"m.h5: refusing to write maps with NaN or inf values, of images \[b, c\]; "
        r"made from coreset results/coresets/x.h5 and patch store results/patches/d/shard-0.h5"
    )
    with pytest.raises(ValueError, match=message):
        write_maps(
            tmp_path / "m.h5",
            ["a", "b", "c"],
            maps,
            **ATTRS,
            made_from="coreset results/coresets/x.h5 and patch store results/patches/d/shard-0.h5",
        )
    with pytest.raises(ValueError, match=r"image scores with NaN or inf values, of images \[a\]"):
        write_maps(tmp_path / "m.h5", ["a"], np.zeros((1, 2, 2)), **ATTRS, scores=[np.inf], made_from="t")
    assert not list(tmp_path.iterdir())


def test_shapes_that_do_not_fit_the_ids_are_refused(tmp_path):
    with pytest.raises(ValueError, match=r"maps must be \(N, H, W\) for 2 ids, got \(3, 2, 2\)"):
        write_maps(tmp_path / "m.h5", ["a", "b"], np.zeros((3, 2, 2)), **ATTRS, made_from="t")
    with pytest.raises(ValueError, match=r"image scores must be \(2,\), got \(1,\)"):
        write_maps(tmp_path / "m.h5", ["a", "b"], np.zeros((2, 2, 2)), **ATTRS, scores=[1.0], made_from="t")


def test_a_maps_file_with_nan_or_of_another_format_is_refused_when_read(tmp_path):
    write_maps(tmp_path / "m.h5", ["a"], np.zeros((1, 2, 2)), **ATTRS, made_from="t")
    with h5py.File(tmp_path / "m.h5", "r+") as h5:
        h5["maps"][0, 0, 0] = np.nan
    with pytest.raises(ValueError, match=r"m.h5: maps hold NaN or inf; delete it and rerun"):
        read_maps([tmp_path / "m.h5"])
    with h5py.File(tmp_path / "old.h5", "w") as h5:  # an anomaly-maps file of before the contract
        h5["ids"] = np.array(["a"], dtype=h5py.string_dtype())
        h5["maps"] = np.zeros((1, 2, 2), np.float32)
    with pytest.raises(ValueError, match=r"old.h5: not a maps file of format 1"):
        read_maps([tmp_path / "old.h5"])


def test_files_of_different_models_are_not_concatenated(tmp_path):
    write_maps(tmp_path / "a.h5", ["a"], np.zeros((1, 2, 2)), **ATTRS, made_from="t")
    write_maps(tmp_path / "b.h5", ["b"], np.zeros((1, 2, 2)), model="patchcore", score="distance", made_from="t")
    with pytest.raises(ValueError, match=r"a.h5, .*b.h5: maps files of different models"):
        read_maps([tmp_path / "a.h5", tmp_path / "b.h5"])
