"""The items of one split of the latent study: defect crops around each instance of a dataset (or its whole
images), the seeded selection of the configured counts, in the common layout with the candidates beside."""

from defectlab.latent.items import roles_of, rule_of, write_items
from defectlab.runtime import atomic_directory, log_to

log_to(snakemake.log[0])
settings = snakemake.params.settings
split = snakemake.wildcards.split
with atomic_directory(snakemake.output[0]) as tmp:
    index = write_items(
        snakemake.input[0],
        tmp,
        rule_of(settings["crop"]),
        roles_of(settings, settings[split]["counts"]),
        snakemake.params.seed,
        split,
        f"latent {split}",
        mode=settings["mode"],
    )
print(f"{len(index)} items of {snakemake.input[0]}: {index['label'].value_counts().to_dict()}")
