"""Train one point of a segmentation experiment's grid, resuming from its checkpoint if one is there; a fine-tuning
run starts from the pretrained experiment's selected weights at finetune_lr, with that run's weight decay.

Snakemake reruns a finished job only when its settings changed: a checkpoint of other settings is then stale,
and the run starts over (saying so) instead of refusing it."""

import torch

from defectlab.models.segmentation.settings import grid_points, resolve
from defectlab.models.segmentation.train import stored_settings, train_segmentation
from defectlab.runtime import log_to

log_to(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
settings = resolve(snakemake.params.settings)
pretrained = snakemake.input.pretrained[0] if snakemake.input.pretrained else None
if pretrained is None:
    point = grid_points(settings)[int(snakemake.wildcards.point)]
else:
    point = {"lr": settings["finetune_lr"], "weight_decay": stored_settings(pretrained)["weight_decay"]}
record = train_segmentation(
    snakemake.params.model,
    settings,
    list(snakemake.input.train),
    snakemake.input.val,
    snakemake.output[0],
    **point,
    seed=snakemake.params.seed,
    pretrained=pretrained,
    stale_checkpoint="restart",
)
print(
    f"{snakemake.params.model} {point}: {record['steps_done']} steps in {record['wall_s']:.1f} s on {record['device']}"
)
