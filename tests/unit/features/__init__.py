"""Tests of defectlab.features: backbones of both kinds, the trainable backbone, patch-feature streaming."""
