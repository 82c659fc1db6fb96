"""Eq. 3, eq. 5 against a hand computation, the Wasserstein losses and the clipping."""

import math

import torch

from defectlab.models.autoencoders import losses


def test_reconstruction_is_the_mean_squared_residual():
    x = torch.tensor([[[[0.0, 1.0], [0.5, 0.25]]]])
    x_tilde = torch.tensor([[[[1.0, 1.0], [0.0, 0.25]]]])
    assert losses.reconstruction(x, x_tilde).item() == (1 + 0 + 0.25 + 0) / 4


def test_kl_matches_eq5_by_hand():
    mu = torch.tensor([[0.0, 1.0], [2.0, 0.0]])
    log_sigma = torch.tensor([[0.0, math.log(2.0)], [0.0, math.log(0.5)]])
    # ½ Σ (σ² + μ² − 1 − log σ²) per row: row 1: ½ (0 + (4 + 1 − 1 − 2 ln 2)); row 2: ½ (4 + (0.25 − 1 + 2 ln 2))
    row1 = 0.5 * (4 + 1 - 1 - 2 * math.log(2.0))
    row2 = 0.5 * ((1 + 4 - 1) + (0.25 - 1 - 2 * math.log(0.5)))
    assert math.isclose(losses.kl_divergence(mu, log_sigma).item(), (row1 + row2) / 2, rel_tol=1e-6)
    assert losses.kl_divergence(torch.zeros(3, 100), torch.zeros(3, 100)).item() == 0.0


def test_wasserstein_losses():
    on_prior, on_code = torch.tensor([1.0, 3.0]), torch.tensor([0.5, 0.5])
    assert losses.critic_loss(on_prior, on_code).item() == -(2.0 - 0.5)
    assert losses.generator_loss(on_code).item() == -0.5


def test_clip_clamps_every_parameter():
    layer = torch.nn.Linear(4, 3)
    with torch.no_grad():
        layer.weight.mul_(100)
    losses.clip_(layer, 0.01)
    assert all(p.abs().max() <= 0.01 for p in layer.parameters())
