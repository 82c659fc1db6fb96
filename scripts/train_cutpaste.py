"""Train one CutPaste network on its training datasets' patches, resuming from its checkpoint if one is there.

Snakemake reruns a finished job only when its settings changed: a checkpoint of other settings is then stale,
and the run starts over (saying so) instead of refusing it."""

from pathlib import Path

import torch

from defectlab.models.cutpaste.train import train_cutpaste
from defectlab.runtime import log_to

log_to(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
record = train_cutpaste(
    snakemake.params.settings,
    list(snakemake.input.datasets),
    snakemake.params.patches,
    snakemake.output[0],
    seed=snakemake.params.seed,
    weights_dir=Path(snakemake.params.weights_dir),
    stale_checkpoint="restart",
)
print(f"cutpaste: {record['steps_done']} steps in {record['wall_s']:.1f} s on {record['device']}")
