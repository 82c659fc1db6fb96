"""Synthetic aluminium plates: per-sample parameters (`plan`, pure Python) and their Blender renders (`plates`).

The plan is kept free of `bpy` so that workflow jobs and tests can reason about a dataset
(counts, shards, index rows) without loading Blender.
"""
