"""The denoised twin of a dataset (`denoise_of`): its images through fastNlMeansDenoisingColored, everything else
copied, the parameters recorded in the index (defectlab.data.denoise)."""

import cv2

from defectlab.data.denoise import denoise_dataset
from defectlab.data.layout import check_dataset
from defectlab.runtime import atomic_directory, log_to

log_to(snakemake.log[0])
cv2.setNumThreads(snakemake.threads)  # the filter's own threads; the result does not depend on them
source, params = snakemake.params.source, snakemake.params.denoise
with atomic_directory(snakemake.output[0]) as tmp:
    index = denoise_dataset(snakemake.input[0], tmp, params, name=source)
    check_dataset(tmp)
settings = ", ".join(f"{key} {value}" for key, value in params.items())
print(f"{len(index)} images of {source} denoised ({settings}; OpenCV {cv2.__version__})")
