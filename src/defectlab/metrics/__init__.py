"""Metrics of anomaly segmentation: pixel-wise, image-wise and defect-wise."""
