"""The one training loop of the pipeline: every trained model (CutPaste, the autoencoders, the segmentation nets)
runs through `train`, so seeds, checkpoints, resume, progress, device and timings are solved once.

A model family supplies its modules, optimisers, schedulers and a `step(batch, state) -> {loss: value}`; the loop
owns everything around it. See `loop.train` for the contract.
"""

from defectlab.training.checkpoint import checkpoint_path, load_weights, read_record, read_snapshots
from defectlab.training.data import SeededBatchSampler, step_generator
from defectlab.training.early_stopping import EarlyStopping
from defectlab.training.loop import TrainState, train
from defectlab.training.seeding import seed_everything

__all__ = [
    "EarlyStopping",
    "SeededBatchSampler",
    "TrainState",
    "checkpoint_path",
    "load_weights",
    "read_record",
    "read_snapshots",
    "seed_everything",
    "step_generator",
    "train",
]
