"""The pooled penultimate vectors of one split's items: from the backbone as it comes (pre-trained, or random
initialisation, recorded) or from its fine-tuned classifier."""

from pathlib import Path

import torch

from defectlab.data.layout import read_index
from defectlab.latent.embedding import build_network, embed, finetuned_network, write_embeddings
from defectlab.runtime import log_to

log_to(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
dataset, device = snakemake.input.dataset, snakemake.params.device
ids = sorted(read_index(dataset)["id"].astype(str))
size = snakemake.params.input_size
if snakemake.wildcards.state == "finetuned":
    network, settings = finetuned_network(snakemake.input.classifier[0], device)
    size = settings["input_size"]  # what the classifier was trained at
else:
    backbone = snakemake.params.backbone
    network = build_network(backbone["name"], backbone["weights"], Path(snakemake.params.weights_dir))
vectors = embed(network, dataset, ids, size, snakemake.params.batch_size, device)
write_embeddings(snakemake.output[0], ids, vectors, {**network.attrs, "input_size": size})
start = "pretrained" if network.attrs["pretrained"] else "random initialisation, not pretrained"
print(f"{len(ids)} items -> {vectors.shape[1]}-D vectors ({network.attrs['backbone']}, {start})")
