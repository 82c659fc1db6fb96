"""Patch features from ImageNet-pretrained backbones: pooled, resized and concatenated layers, as PatchCore uses."""
