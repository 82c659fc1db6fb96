"""Train one autoencoder (cae, vae or aae) on its training datasets, resuming from its checkpoint if one is there.

Snakemake reruns a finished job only when its settings changed: a checkpoint of other settings is then stale,
and the run starts over (saying so) instead of refusing it."""

import torch

from defectlab.models.autoencoders import train_autoencoder
from defectlab.runtime import log_to

log_to(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
record = train_autoencoder(
    snakemake.params.model,
    snakemake.params.settings,
    list(snakemake.input),
    snakemake.output[0],
    seed=snakemake.params.seed,
    device=snakemake.params.settings["device"],
    stale_checkpoint="restart",
)
print(f"{snakemake.params.model}: {record['steps_done']} steps in {record['wall_s']:.1f} s on {record['device']}")
