"""The fine-tuned latent of the validation and test items: K-means, ARI, the ambiguous cluster by each rule, and
the test items routed (review list, automatic labels)."""

from defectlab.data.layout import read_index
from defectlab.latent.analysis import evaluate_finetuned_latent
from defectlab.latent.embedding import read_embeddings
from defectlab.runtime import atomic_output, log_to

log_to(snakemake.log[0])
val, test = read_embeddings(snakemake.input.val), read_embeddings(snakemake.input.test)
val_index = read_index(snakemake.input.val_items).set_index("id").loc[val.ids].reset_index()
test_index = read_index(snakemake.input.test_items).set_index("id").loc[test.ids].reset_index()
before = read_embeddings(snakemake.input.val_pretrained)
if before.ids != val.ids:
    raise ValueError(f"{snakemake.input.val_pretrained}: other items than {snakemake.input.val}")
result = evaluate_finetuned_latent(
    val.vectors, val_index, test.vectors, test_index, snakemake.params.latent, snakemake.params.seed, before.vectors
)
for name in ("metrics", "clusters", "review", "automatic"):
    with atomic_output(getattr(snakemake.output, name)) as tmp:
        getattr(result, name).to_parquet(tmp, index=False)
print(result.metrics.to_string(index=False))
