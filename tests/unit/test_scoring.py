import pytest
import torch

from defectlab.patchcore import nearest_distances


def data() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    coreset = torch.randn(70, 12, generator=generator)
    features = torch.cat([coreset[:5], torch.randn(128, 12, generator=generator)])  # five exact copies
    return features, coreset


@pytest.mark.parametrize("chunk_size", [1, 3, 64, 133, 1000])
def test_chunked_distances_equal_brute_force(chunk_size):
    features, coreset = data()
    expected = torch.cdist(features.double(), coreset.double(), compute_mode="donot_use_mm_for_euclid_dist")
    scores = nearest_distances(features, coreset, chunk_size)
    assert scores.shape == (133,) and scores.dtype == torch.float32
    torch.testing.assert_close(scores.double(), expected.min(1).values, rtol=1e-6, atol=1e-6)
    assert torch.equal(scores[:5], torch.zeros(5))  # copies of coreset points score exactly 0


def test_scores_follow_the_coreset_dtype_and_device():
    features, coreset = data()
    scores = nearest_distances(features, coreset.double(), 16)
    assert scores.dtype == torch.float64 and scores.device == coreset.device


def test_no_rows_give_no_scores():
    assert nearest_distances(torch.empty(0, 12), data()[1]).shape == (0,)


@pytest.mark.parametrize(
    ("features", "coreset", "chunk_size", "message"),
    [
        (torch.zeros(3, 4), torch.zeros(0, 4), 8, "empty"),
        (torch.zeros(3, 4), torch.zeros(2, 5), 8, "width"),
        (torch.zeros(3, 4), torch.zeros(2, 4), 0, "chunk_size"),
    ],
)
def test_bad_input_is_refused(features, coreset, chunk_size, message):
    with pytest.raises(ValueError, match=message):
        nearest_distances(features, coreset, chunk_size)
