"""Fine-tune one backbone as a classifier of the curated classes on the training items the screen kept (the
paper's §4.3), validated on the curated validation items after every epoch; a killed job resumes."""

from pathlib import Path

import pandas as pd

from defectlab.data.layout import read_index
from defectlab.latent.classifier import train_classifier
from defectlab.runtime import log_to

log_to(snakemake.log[0])
backbone, finetune, classes = snakemake.params.backbone, snakemake.params.finetune, snakemake.params.classes
screen = pd.read_parquet(snakemake.input.screen)
train_ids = screen.loc[screen["fine_tune"], "id"].tolist()
val_index = read_index(snakemake.input.val)
val_ids = sorted(val_index.loc[val_index["label"].isin(classes), "id"].astype(str))
record = train_classifier(
    backbone["name"],
    backbone["weights"],
    Path(snakemake.params.weights_dir),
    snakemake.input.train,
    train_ids,
    classes,
    snakemake.output[0],
    epochs=finetune["epochs"],
    seed=snakemake.params.seed,
    batch_size=finetune["batch_size"],
    lr=finetune["lr"],
    momentum=finetune["momentum"],
    hflip=finetune["hflip"],
    input_size=finetune["input_size"],
    val=(snakemake.input.val, val_ids),
    device=snakemake.params.device,
    threads=snakemake.threads,
    stale_checkpoint="restart",
)
print(f"{record['steps_done']} steps on {record['device']} in {record['wall_s']:.1f} s")
