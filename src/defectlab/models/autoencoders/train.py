"""Training CAE, VAE and AAE through the pipeline's one loop (`defectlab.training.train`): this module builds the
modules, optimisers and the step of each model; the loop owns seeds, checkpoints, resume, device and timings.

Per step (seed 003 §2, §3): the CAE minimises eq. 3; the VAE eq. 3 + β·KL (eq. 5) with z = μ + σ ⊙ ε (eq. 6);
the AAE runs a reconstruction phase (eq. 3 on E and D), then the regularisation phase: `n_critic` updates of the
Wasserstein critic on codes E(x) against prior samples, each followed by clipping the critic's weights into
[−clip, clip], then one generator update of E against the critic. Every network uses Adam at the same lr (§3;
WGAN's RMSProp would be the usual choice under clipping, the paper says Adam); the AAE's three updates keep
separate Adam states.
"""

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from defectlab.models.autoencoders import losses
from defectlab.models.autoencoders.images import (
    RandomPatches,
    WholeImages,
    choose_sampling,
    common_size,
    probe,
    read_training_images,
)
from defectlab.models.autoencoders.networks import Autoencoder, Critic, check_size
from defectlab.models.autoencoders.settings import check_model, kl_weight, network_arguments, resolve
from defectlab.training import TrainState, seed_everything, train

NOT_FINGERPRINTED = ("device",)  # where a run goes is no hyperparameter: a job may resume on another device


def build_networks(model: str, settings: Mapping[str, Any]) -> dict[str, torch.nn.Module]:
    """The modules of `model` under resolved `settings` (with a numeric size): the autoencoder, and the AAE's
    critic, whose initial weights are clipped into the box too, so it is bounded from its first use."""
    networks: dict[str, torch.nn.Module] = {
        "autoencoder": Autoencoder(**network_arguments(settings, model, settings["size"]))
    }
    if model == "aae":
        critic = Critic(settings["latent"], leaky_slope=settings["leaky_slope"], output=settings["critic_output"])
        losses.clip_(critic, settings["clip"])
        networks["critic"] = critic
    return networks


def build_optimizers(model: str, networks: Mapping[str, torch.nn.Module], settings: Mapping[str, Any]):
    """Adam for every update, at the same lr: (E, D) on the reconstruction, and for the AAE E as generator and C."""

    def adam(parameters) -> torch.optim.Adam:
        return torch.optim.Adam(parameters, lr=settings["lr"], betas=tuple(settings["betas"]))

    autoencoder = networks["autoencoder"]
    optimizers = {"autoencoder": adam(autoencoder.parameters())}
    if model == "aae":
        optimizers["generator"] = adam(autoencoder.encoder.parameters())
        optimizers["critic"] = adam(networks["critic"].parameters())
    return optimizers


def cae_step(x: torch.Tensor, state: TrainState) -> dict[str, torch.Tensor]:
    autoencoder, optimizer = state.models["autoencoder"], state.optimizers["autoencoder"]
    optimizer.zero_grad(set_to_none=True)
    loss = losses.reconstruction(x, autoencoder(x))
    loss.backward()
    optimizer.step()
    return {"mse": loss.detach()}


def vae_step(beta: float) -> Callable[[torch.Tensor, TrainState], dict[str, torch.Tensor]]:
    def step(x: torch.Tensor, state: TrainState) -> dict[str, torch.Tensor]:
        autoencoder, optimizer = state.models["autoencoder"], state.optimizers["autoencoder"]
        optimizer.zero_grad(set_to_none=True)
        mu, head = autoencoder.encoder(x)
        log_sigma = autoencoder.log_sigma(head)
        mse = losses.reconstruction(x, autoencoder.decoder(autoencoder.sample(mu, log_sigma)))
        kl = losses.kl_divergence(mu, log_sigma)
        loss = mse + beta * kl
        loss.backward()
        optimizer.step()
        return {"loss": loss.detach(), "mse": mse.detach(), "kl": kl.detach()}

    return step


def aae_step(clip: float, n_critic: int) -> Callable[[torch.Tensor, TrainState], dict[str, torch.Tensor]]:
    def step(x: torch.Tensor, state: TrainState) -> dict[str, torch.Tensor]:
        autoencoder, critic = state.models["autoencoder"], state.models["critic"]
        optimizers = state.optimizers
        # reconstruction phase: E and D exactly as the CAE's
        optimizers["autoencoder"].zero_grad(set_to_none=True)
        mse = losses.reconstruction(x, autoencoder(x))
        mse.backward()
        optimizers["autoencoder"].step()
        # regularisation phase, critic: E is fixed meanwhile, so the codes of the batch are computed once;
        # each update sees a fresh prior sample and is followed by the clipping
        with torch.no_grad():
            code = autoencoder.encoder(x)
        for _ in range(n_critic):
            prior = torch.randn(code.shape, device=code.device, dtype=code.dtype)
            optimizers["critic"].zero_grad(set_to_none=True)
            critic_loss = losses.critic_loss(critic(prior), critic(code))
            critic_loss.backward()
            optimizers["critic"].step()
            losses.clip_(critic, clip)
        # regularisation phase, generator: E moves its codes towards what the critic scores as prior samples
        critic.requires_grad_(False)
        optimizers["generator"].zero_grad(set_to_none=True)
        generator_loss = losses.generator_loss(critic(autoencoder.encoder(x)))
        generator_loss.backward()
        optimizers["generator"].step()
        critic.requires_grad_(True)
        return {"mse": mse.detach(), "critic": critic_loss.detach(), "generator": generator_loss.detach()}

    return step


def snapshot_steps(steps: int, count: int) -> list[int]:
    """The steps whose reconstruction of the probe is kept: none for count 0, the last for 1; else step 0 and
    count − 1 steps spaced geometrically from 1 to the last (training changes fastest at the start), fewer where
    they coincide."""
    if count < 2:
        return [steps] * count
    spaced = np.geomspace(1, steps, count - 1) if count > 2 else [steps]  # geomspace of one point is its start
    return sorted({0, *np.rint(spaced).astype(int).tolist()})


def reconstruction_of(x: torch.Tensor) -> Callable[[TrainState], torch.Tensor]:
    """A snapshot: the autoencoder's reconstruction of `x` (a batch of one) as uint8 grey levels (n_c, H, W)."""

    def snapshot(state: TrainState) -> torch.Tensor:
        x_tilde = state.models["autoencoder"](x.to(state.device))[0]
        return (x_tilde.clamp(0, 1) * 255).round().to(torch.uint8)

    return snapshot


def build_step(model: str, settings: Mapping[str, Any]) -> Callable[[torch.Tensor, TrainState], dict]:
    if model == "cae":
        return cae_step
    if model == "vae":
        return vae_step(settings["kl_weight"])
    return aae_step(settings["clip"], settings["n_critic"])


def train_autoencoder(
    model: str,
    settings: dict,
    datasets: Sequence[str | Path],
    output: str | Path,
    seed: int,
    device: str = "auto",
    stale_checkpoint: str = "refuse",
) -> dict:
    """Train `model` ("cae", "vae" or "aae") on every image of `datasets` and write the final weights to `output`
    (a checkpoint beside it while running); return the loop's record (wall time, steps/s, device, …).

    `settings` are the family's settings (`settings.DEFAULTS` fills what is missing). "auto" values are resolved
    here and stored with the weights: the input size (the images' common size), the sampling (random patches
    when images are larger than the input), β. `device` overrides `settings["device"]` unless "auto".
    The reconstructions of the probe (`images.probe`) at `snapshot_steps` are kept with the weights
    (`defectlab.training.read_snapshots`). `stale_checkpoint`: as `training.train`'s.
    """
    check_model(model)
    resolved = resolve(settings)
    ids, images = read_training_images(datasets, resolved["channels"])
    size = resolved["size"] if resolved["size"] != "auto" else common_size(images)
    if size is None:
        raise ValueError(
            "autoencoder.size is 'auto' but the training images differ in size or are not square: "
            "set autoencoder.size (the network input; larger images are cut into random patches)"
        )
    check_size(size)
    resolved["size"] = size
    resolved["sampling"] = choose_sampling(resolved["sampling"], images, ids, size)
    resolved["kl_weight"] = kl_weight(resolved, size)
    resolved["tile_stride"] = size if resolved["tile_stride"] == "auto" else resolved["tile_stride"]
    stored = {
        "model": model,
        **{k: v for k, v in resolved.items() if k not in NOT_FINGERPRINTED},
        "data": {"datasets": [Path(d).name for d in datasets], "images": len(images)},
    }
    seed_everything(seed)
    networks = build_networks(model, stored)
    optimizers = build_optimizers(model, networks, stored)
    if stored["sampling"] == "whole":
        data = WholeImages(images, stored["batch_size"], seed)
    else:
        data = RandomPatches(images, size, stored["batch_size"], seed)
    return train(
        networks,
        optimizers,
        build_step(model, stored),
        data,
        steps=stored["steps"],
        seed=seed,
        output=output,
        checkpoint_every=stored["checkpoint_every"],
        snapshot=reconstruction_of(probe(images, size)),
        snapshot_steps=snapshot_steps(stored["steps"], stored["snapshots"]),
        stale_checkpoint=stale_checkpoint,
        device=device if device != "auto" else resolved["device"],
        settings=stored,
        desc=f"train {model}",
    )
