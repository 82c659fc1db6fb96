"""Gallery of this run's synthetic clutch (src/defectlab/report/clutch_gallery.py)."""

from pathlib import Path

from defectlab.report.clutch_gallery import choose, clutch_gallery_figure
from defectlab.runtime import atomic_output, log_to

log_to(snakemake.log[0])
figure = clutch_gallery_figure(choose([Path(p) for p in snakemake.input]))
with atomic_output(snakemake.output[0]) as tmp:
    figure.savefig(tmp, dpi=150, format="png")
print(f"gallery of {', '.join(snakemake.params.datasets)}")
