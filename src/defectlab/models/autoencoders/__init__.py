"""The autoencoders of seed 003 (Schneider et al. 2022): CAE, VAE and AAE with a Wasserstein critic on the code.

`train_autoencoder` trains one through the pipeline's training loop; `reconstruct` writes its residual maps.
Modules: `networks` (Tables 2–4), `losses`, `images` (in-memory images and seeded batches), `train`, `predict`,
`settings` (every key and its default).
"""

from defectlab.models.autoencoders.predict import reconstruct
from defectlab.models.autoencoders.settings import DEFAULTS, MODELS
from defectlab.models.autoencoders.train import train_autoencoder

__all__ = ["DEFAULTS", "MODELS", "reconstruct", "train_autoencoder"]
