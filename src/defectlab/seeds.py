"""Seeds derived from the config seed and the wildcards, so every random choice is reproducible."""

import hashlib


def derive_seed(*parts: object) -> int:
    """A 32-bit seed from the config seed and any names (dataset, shard, sample index).

    Hashing the joined parts keeps seeds independent of the order jobs run in and
    of how many shards a dataset is split into.
    """
    text = "/".join(str(part) for part in parts)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")
