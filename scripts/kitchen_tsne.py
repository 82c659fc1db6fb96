"""The kitchen-board study's t-SNE figure (the thesis's Fig. 6.8, defectlab.report.kitchen): each CutPaste
experiment's test-patch embeddings, labelled by the evaluation's test patches (through the maps contract)."""

from defectlab.metrics.evaluation import load_split
from defectlab.metrics.patch import PatchGrid
from defectlab.report import kitchen
from defectlab.runtime import log_to

log_to(snakemake.log[0])
params = snakemake.params
panels = {}
for name, label in params.labels.items():
    split = load_split(params.maps[name], params.test[name], PatchGrid(**params.patch[name]))
    keys, embeddings = kitchen.read_embeddings(params.embeddings[name])
    rows = kitchen.embedding_rows(keys, split.ids, split.patches)
    panels[label] = (embeddings[rows], split.patches.labels)
    print(f"{name}: {len(rows)} test patches, {int(split.patches.labels.sum())} anomalous, {embeddings.shape[1]}-d")
kitchen.tsne_figure(panels, snakemake.output[0], params.max_points, params.seed)
