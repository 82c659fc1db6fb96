"""A dataset of the config from converted real data: the images of one split (and some objects), the
indexes of its categories' conversions merged (defectlab.data.converters.selection)."""

from defectlab.data.converters.selection import select
from defectlab.data.layout import check_dataset
from defectlab.runtime import atomic_directory, log_to

log_to(snakemake.log[0])
split, objects = snakemake.params.split, snakemake.params.source.get("objects")
with atomic_directory(snakemake.output[0]) as tmp:
    chosen = select(snakemake.input, split, objects, tmp)
    check_dataset(tmp)
print(f"{len(chosen)} images of split {split} from {', '.join(snakemake.input)}")
