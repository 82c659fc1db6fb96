"""defectlab: synthetic and real data, Sequential PatchCore and evaluation for visual surface inspection."""

__version__ = "0.1.0"
