"""The losses of seed 003 §2: the reconstruction MSE (eq. 3), the VAE's KL term (eq. 5), the Wasserstein critic
and generator losses of the AAE's regularisation phase, and the weight clipping that keeps the critic Lipschitz."""

import torch
from torch import nn


def reconstruction(x: torch.Tensor, x_tilde: torch.Tensor) -> torch.Tensor:
    """Eq. 3, the per-image mean of (x − x̃)², also averaged over channels and the batch."""
    return torch.mean((x - x_tilde) ** 2)


def kl_divergence(mu: torch.Tensor, log_sigma: torch.Tensor) -> torch.Tensor:
    """Eq. 5 negated: D_KL(N(μ, σ²) ‖ N(0, I)) = ½ Σ_j (σ_j² + μ_j² − 1 − log σ_j²), summed over the code and
    averaged over the batch."""
    kl = 0.5 * (torch.exp(2 * log_sigma) + mu**2 - 1 - 2 * log_sigma)
    return kl.sum(dim=1).mean()


def critic_loss(on_prior: torch.Tensor, on_code: torch.Tensor) -> torch.Tensor:
    """The negated Wasserstein estimate, minimised by the critic: −(E C(z_prior) − E C(E(x)))."""
    return on_code.mean() - on_prior.mean()


def generator_loss(on_code: torch.Tensor) -> torch.Tensor:
    """The encoder's adversarial loss: −E C(E(x)), so its codes score like prior samples."""
    return -on_code.mean()


@torch.no_grad()
def clip_(module: nn.Module, clip: float) -> None:
    """Clamp every parameter of `module` into [−clip, clip] in place (Arjovsky et al. 2017)."""
    for parameter in module.parameters():
        parameter.clamp_(-clip, clip)
