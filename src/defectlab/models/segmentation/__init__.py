"""Supervised defect segmentation (seed 004): FCN, DeepLabV3 and U-Net."""
