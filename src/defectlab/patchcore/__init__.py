"""Sequential PatchCore: coresets built one stream vector at a time, melded, and used to score patches."""

from defectlab.patchcore.greedy import coverage_radius, greedy_coreset
from defectlab.patchcore.scoring import nearest_distances
from defectlab.patchcore.sequential import SequentialCoreset, meld

__all__ = ["SequentialCoreset", "coverage_radius", "greedy_coreset", "meld", "nearest_distances"]
