"""Tiny, seeded training problems for the loop's tests (and the child process that is killed mid-run).

- mlp: regression of a fixed linear map with an MLP (Adam), batches from (seed, step);
- critic: a Wasserstein-style pair, generator and critic with their own optimisers, three clipped critic updates
  per generator update, prior noise from the global torch generator (so resume must restore it);
- conv: a conv autoencoder with dropout, fed by a shuffling DataLoader, with a step-wise lr schedule.
"""

from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from defectlab.training import seed_everything, step_generator


def mlp(seed: int = 0, lr: float = 1e-2, **_: Any) -> dict[str, Any]:
    seed_everything(seed)
    model = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 1))
    target = torch.tensor([[1.0], [-2.0], [0.5], [3.0]])

    def batch(step: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.randn(16, 4, generator=step_generator(seed, step))
        return x, x @ target

    def step(batch: tuple[torch.Tensor, torch.Tensor], state) -> dict[str, torch.Tensor]:
        x, y = batch
        state.optimizer.zero_grad()
        loss = nn.functional.mse_loss(state.model(x), y)
        loss.backward()
        state.optimizer.step()
        return {"loss": loss.detach()}

    return {"model": model, "optimizer": torch.optim.Adam(model.parameters(), lr=lr), "step": step, "data": batch}


def critic(seed: int = 0, lr: float = 5e-3, critic_steps: int = 3, clip: float = 0.05, **_: Any) -> dict[str, Any]:
    seed_everything(seed)
    generator = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))
    judge = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 1))
    optimizers = {
        "generator": torch.optim.RMSprop(generator.parameters(), lr=lr),
        "critic": torch.optim.RMSprop(judge.parameters(), lr=lr),
    }

    def batch(step: int) -> torch.Tensor:
        real = torch.randn(critic_steps, 8, 2, generator=step_generator(seed, step)) * 0.3
        return real + torch.tensor([2.0, -1.0])

    def step(real: torch.Tensor, state) -> dict[str, float]:
        gen, crit = state.models["generator"], state.models["critic"]
        opt_g, opt_c = state.optimizers["generator"], state.optimizers["critic"]
        for k in range(critic_steps):
            fake = gen(torch.randn(8, 2, device=state.device)).detach()
            opt_c.zero_grad()
            critic_loss = crit(fake).mean() - crit(real[k]).mean()
            critic_loss.backward()
            opt_c.step()
            with torch.no_grad():
                for p in crit.parameters():
                    p.clamp_(-clip, clip)
        opt_g.zero_grad()
        generator_loss = -crit(gen(torch.randn(8, 2, device=state.device))).mean()
        generator_loss.backward()
        opt_g.step()
        return {"critic": critic_loss.item(), "generator": generator_loss.item()}

    return {"model": {"generator": generator, "critic": judge}, "optimizer": optimizers, "step": step, "data": batch}


def conv(seed: int = 0, lr: float = 1e-2, **_: Any) -> dict[str, Any]:
    seed_everything(seed)
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.Dropout(0.1),
        nn.ConvTranspose2d(4, 1, 4, stride=2, padding=1),
    )
    images = torch.rand(20, 1, 8, 8, generator=torch.Generator().manual_seed(seed))
    loader = DataLoader(TensorDataset(torch.arange(20), images), batch_size=6, shuffle=True)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)

    seen: list[list[int]] = []

    def step(batch: list[torch.Tensor], state) -> dict[str, torch.Tensor]:
        ids, x = batch
        seen.append(ids.tolist())
        state.optimizer.zero_grad()
        loss = nn.functional.mse_loss(state.model(x), x)
        loss.backward()
        state.optimizer.step()
        return {"loss": loss.detach()}

    step.seen = seen  # the sample ids of every batch this process trained on
    return {
        "model": model,
        "optimizer": optimizer,
        "step": step,
        "data": loader,
        "scheduler": torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5),
        "scheduler_every": len(loader),
    }


PROBLEMS = {"mlp": mlp, "critic": critic, "conv": conv}
