"""Sequential PatchCore: coresets built one stream vector at a time, melded, and used to score patches."""

from defectlab.patchcore.scoring import nearest_distances
from defectlab.patchcore.sequential import SequentialCoreset, meld

__all__ = ["SequentialCoreset", "meld", "nearest_distances"]
