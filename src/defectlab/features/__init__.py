"""Features of ImageNet backbones (timm and torchvision): PatchCore's patch features of uint8 patches
(backbones), trainable level maps and pooled vectors (trainable), and patch stores streamed as feature cells
(patch_features)."""
