"""The networks of Schneider et al. 2022 (seed 003), appendix Tables 2–4, layer by layer.

Table 2 gives two encoder/decoder pairs: `synthetic` (5 + 5 layers, 4 halvings) and `industrial` (6 + 6, conv2
and one decoder layer at stride 1). Table 3 gives the bottleneck (lin1..lin4, r = 1024, n_z = 100; the VAE
with two heads lin21 = μ and lin22 = log σ), Table 4 the critic on the code (n_z -> 10 -> 1, Leaky ReLU on both).
Kernels are 3×3 (§3). What the paper leaves open is a constructor argument, defaulted as the spec proposes
(`settings.DEFAULTS` says where each default comes from): the leaky slope, stride-2 convolutions or max pooling
to halve, transposed convolutions or nearest upsampling to double, which industrial decoder layer keeps stride 1,
biases, no normalisation, PyTorch's default initialisation.
"""

from typing import Literal

import torch
from torch import nn

Architecture = Literal["synthetic", "industrial"]
Downsample = Literal["stride", "maxpool"]
Upsample = Literal["transposed", "nearest"]

# (in, out) channels of Table 2 ("c" stands for n_c) and which layers halve the resolution.
ENCODERS: dict[str, list[tuple[str, str | int, int, bool]]] = {
    "synthetic": [
        ("conv1", "c", 16, False),
        ("conv2", 16, 32, True),
        ("conv3", 32, 64, True),
        ("conv4", 64, 64, True),
        ("conv5", 64, 16, True),
    ],
    "industrial": [
        ("conv1", "c", 16, False),
        ("conv2", 16, 32, False),
        ("conv3", 32, 64, True),
        ("conv4", 64, 64, True),
        ("conv5", 64, 64, True),
        ("conv6", 64, 16, True),
    ],
}
# Layers that double the resolution are the first four; the industrial decoder's fifth keeps stride 1 by default
# (mirroring conv2); the raw strings of Table 2 may also be read as deconv4 at stride 1 and deconv5 at stride 2.
DECODERS: dict[str, list[tuple[str, int, str | int]]] = {
    "synthetic": [
        ("deconv1", 16, 64),
        ("deconv2", 64, 64),
        ("deconv3", 64, 32),
        ("deconv4", 32, 16),
        ("deconv5", 16, "c"),
    ],
    "industrial": [
        ("deconv1", 16, 64),
        ("deconv2", 64, 64),
        ("deconv3", 64, 64),
        ("deconv4", 64, 32),
        ("deconv5", 32, 16),
        ("deconv6", 16, "c"),
    ],
}
BOTTLENECK_CHANNELS = 16  # conv_b's output channels, and lin4's reshape (Table 3: W/16 × H/16 / 16)
FACTOR = 16  # four halvings


def check_size(size: int) -> None:
    if isinstance(size, bool) or not isinstance(size, int) or size < FACTOR or size % FACTOR:
        raise ValueError(f"autoencoder: the input size must be a multiple of {FACTOR} (four halvings), got {size!r}")


def down(c_in: int, c_out: int, halve: bool, downsample: Downsample, bias: bool) -> nn.Module:
    if not halve:
        return nn.Conv2d(c_in, c_out, 3, stride=1, padding=1, bias=bias)
    if downsample == "stride":
        return nn.Conv2d(c_in, c_out, 3, stride=2, padding=1, bias=bias)
    if downsample == "maxpool":
        return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=bias), nn.MaxPool2d(2))
    raise ValueError(f"autoencoder: downsample must be 'stride' or 'maxpool', got {downsample!r}")


def up(c_in: int, c_out: int, double: bool, upsample: Upsample, bias: bool) -> nn.Module:
    if upsample == "transposed":
        if double:
            return nn.ConvTranspose2d(c_in, c_out, 3, stride=2, padding=1, output_padding=1, bias=bias)
        return nn.ConvTranspose2d(c_in, c_out, 3, stride=1, padding=1, bias=bias)
    if upsample == "nearest":
        conv = nn.Conv2d(c_in, c_out, 3, padding=1, bias=bias)
        return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), conv) if double else conv
    raise ValueError(f"autoencoder: upsample must be 'transposed' or 'nearest', got {upsample!r}")


class Encoder(nn.Module):
    """E: Table 2's convolutions, then Table 3's lin1 and the code layer lin2 (or, variational, the two heads
    lin21 = μ and lin22 = log σ or log σ²). `forward` returns the code, or (μ, second head)."""

    def __init__(
        self,
        architecture: Architecture,
        channels: int,
        size: int,
        hidden: int,
        latent: int,
        leaky_slope: float,
        variational: bool = False,
        downsample: Downsample = "stride",
        bias: bool = True,
    ) -> None:
        super().__init__()
        check_size(size)
        if architecture not in ENCODERS:
            raise ValueError(f"autoencoder: architecture must be one of {sorted(ENCODERS)}, got {architecture!r}")
        self.variational = variational
        self.act = nn.LeakyReLU(leaky_slope)
        self.convs = nn.ModuleDict(
            {
                name: down(channels if c_in == "c" else c_in, c_out, halve, downsample, bias)
                for name, c_in, c_out, halve in ENCODERS[architecture]
            }
        )
        flat = BOTTLENECK_CHANNELS * (size // FACTOR) ** 2
        self.lin1 = nn.Linear(flat, hidden, bias=bias)
        if variational:
            self.lin21 = nn.Linear(hidden, latent, bias=bias)
            self.lin22 = nn.Linear(hidden, latent, bias=bias)
        else:
            self.lin2 = nn.Linear(hidden, latent, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        for conv in self.convs.values():
            x = self.act(conv(x))
        h = self.act(self.lin1(x.flatten(1)))
        if self.variational:
            return self.lin21(h), self.lin22(h)
        return self.lin2(h)


class Decoder(nn.Module):
    """D: Table 3's lin3 and lin4 (reshaped to 16 × H/16 × W/16), then Table 2's transposed convolutions,
    Leaky ReLU throughout and a Sigmoid on the last layer (images in [0, 1])."""

    def __init__(
        self,
        architecture: Architecture,
        channels: int,
        size: int,
        hidden: int,
        latent: int,
        leaky_slope: float,
        upsample: Upsample = "transposed",
        decoder_stride1: Literal["deconv4", "deconv5"] = "deconv5",
        bias: bool = True,
    ) -> None:
        super().__init__()
        check_size(size)
        if architecture not in DECODERS:
            raise ValueError(f"autoencoder: architecture must be one of {sorted(DECODERS)}, got {architecture!r}")
        if decoder_stride1 not in ("deconv4", "deconv5"):
            raise ValueError(f"autoencoder: decoder_stride1 must be 'deconv4' or 'deconv5', got {decoder_stride1!r}")
        self.side = size // FACTOR
        self.act = nn.LeakyReLU(leaky_slope)
        self.lin3 = nn.Linear(latent, hidden, bias=bias)
        self.lin4 = nn.Linear(hidden, BOTTLENECK_CHANNELS * self.side**2, bias=bias)
        layers = DECODERS[architecture]
        stride1 = {layers[-1][0]}
        if architecture == "industrial":
            stride1.add(decoder_stride1)
        self.deconvs = nn.ModuleDict(
            {
                name: up(c_in, channels if c_out == "c" else c_out, name not in stride1, upsample, bias)
                for name, c_in, c_out in layers
            }
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.act(self.lin4(self.act(self.lin3(z))))
        x = x.view(len(z), BOTTLENECK_CHANNELS, self.side, self.side)
        *hidden, last = self.deconvs.values()
        for deconv in hidden:
            x = self.act(deconv(x))
        return torch.sigmoid(last(x))


class Autoencoder(nn.Module):
    """CAE and AAE (x̃ = D(E(x)), eq. 2), or with `variational` the VAE: z = μ + σ ⊙ ε (eq. 6) in training;
    in eval mode z = μ unless `test_latent="sample"` (then ε is drawn from `generator`).

    `sigma_output` says what lin22 gives: "log_sigma" (§2.2.1: "μ and log(σ) are outputs of the encoder") or
    "log_var" (log σ², the usual convention).
    """

    def __init__(
        self,
        architecture: Architecture = "synthetic",
        channels: int = 1,
        size: int = 128,
        hidden: int = 1024,
        latent: int = 100,
        leaky_slope: float = 0.01,
        variational: bool = False,
        sigma_output: Literal["log_sigma", "log_var"] = "log_sigma",
        test_latent: Literal["mean", "sample"] = "mean",
        downsample: Downsample = "stride",
        upsample: Upsample = "transposed",
        decoder_stride1: Literal["deconv4", "deconv5"] = "deconv5",
        bias: bool = True,
    ) -> None:
        super().__init__()
        if sigma_output not in ("log_sigma", "log_var"):
            raise ValueError(f"autoencoder: sigma_output must be 'log_sigma' or 'log_var', got {sigma_output!r}")
        if test_latent not in ("mean", "sample"):
            raise ValueError(f"autoencoder: test_latent must be 'mean' or 'sample', got {test_latent!r}")
        self.size, self.channels, self.variational = size, channels, variational
        self.sigma_output, self.test_latent = sigma_output, test_latent
        self.encoder = Encoder(architecture, channels, size, hidden, latent, leaky_slope, variational, downsample, bias)
        self.decoder = Decoder(
            architecture, channels, size, hidden, latent, leaky_slope, upsample, decoder_stride1, bias
        )

    def log_sigma(self, head: torch.Tensor) -> torch.Tensor:
        """log σ from lin22's output."""
        return head if self.sigma_output == "log_sigma" else 0.5 * head

    def sample(self, mu: torch.Tensor, log_sigma: torch.Tensor, generator: torch.Generator | None = None):
        """Eq. 6, the reparametrisation: z = μ + σ ⊙ ε, ε ~ N(0, I)."""
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        return mu + torch.exp(log_sigma) * eps

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if not self.variational:
            return self.decoder(self.encoder(x))
        mu, head = self.encoder(x)
        if not self.training and self.test_latent == "mean":
            return self.decoder(mu)
        return self.decoder(self.sample(mu, self.log_sigma(head), generator))


class Critic(nn.Module):
    """C_AAE of Table 4: lind1 (n_z -> 10, Leaky ReLU), lind2 (10 -> 1, Leaky ReLU as printed; "none" for the
    usual linear WGAN output). Never a Sigmoid: a Wasserstein critic's output is an unbounded score."""

    def __init__(
        self,
        latent: int = 100,
        width: int = 10,
        leaky_slope: float = 0.01,
        output: Literal["leaky_relu", "none"] = "leaky_relu",
        bias: bool = True,
    ) -> None:
        super().__init__()
        if output not in ("leaky_relu", "none"):
            raise ValueError(f"autoencoder: critic_output must be 'leaky_relu' or 'none', got {output!r}")
        self.lind1 = nn.Linear(latent, width, bias=bias)
        self.lind2 = nn.Linear(width, 1, bias=bias)
        self.act = nn.LeakyReLU(leaky_slope)
        self.output = output

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        score = self.lind2(self.act(self.lind1(z)))
        return (self.act(score) if self.output == "leaky_relu" else score).squeeze(1)
