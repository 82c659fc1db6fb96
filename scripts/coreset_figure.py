"""Figure of the coreset building: replacements and d_m per epoch for each shard."""

from pathlib import Path

from defectlab.patchcore.coreset_file import read_coreset
from defectlab.report.figures import coreset_figure
from defectlab.runtime import atomic_output, log_to

log_to(snakemake.log[0])
histories = {f"{Path(p).parent.name}/{Path(p).stem}": read_coreset(p).attrs for p in snakemake.input.shards}
melded = read_coreset(snakemake.input.melded).attrs
if melded["method"] == "greedy":
    title = f"{snakemake.wildcards.experiment}: greedy k-center baseline (no epochs)"
else:
    title = (
        f"{snakemake.wildcards.experiment}: sequential coreset per shard "
        f"(melded d_m = {melded['min_distance'][-1]:.3f})"
    )
figure = coreset_figure(histories, title)
with atomic_output(snakemake.output[0]) as tmp:
    figure.savefig(tmp, format="png", dpi=110)
