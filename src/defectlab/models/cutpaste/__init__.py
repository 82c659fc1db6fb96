"""CutPaste (Li et al., CVPR 2021) as the kitchen-board thesis uses it."""
