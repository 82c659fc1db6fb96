"""Keep the grid point of a segmentation experiment with the best validation F1, and write the grid's table."""

import torch

from defectlab.models.segmentation.select import select_grid_point
from defectlab.runtime import log_to

log_to(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
best = select_grid_point(
    list(snakemake.input.runs),
    snakemake.input.val,
    snakemake.output.weights,
    snakemake.output.table,
    snakemake.params.device,
)
print(f"selected lr {best['lr']:g}, weight decay {best['weight_decay']:g}: validation F1 {best['val_f1']:.4f}")
