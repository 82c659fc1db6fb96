import pytest

from defectlab.classes import DEFECT_INDICES, IMPURITY_INDICES, class_index
from defectlab.seeds import derive_seed


def test_seed_depends_on_every_part_and_nothing_else():
    assert derive_seed(7, "plates-train", 3) == derive_seed(7, "plates-train", 3)
    assert derive_seed(7, "plates-train", 3) != derive_seed(7, "plates-train", 4)
    assert derive_seed(7, "plates-train", 3) != derive_seed(8, "plates-train", 3)
    assert 0 <= derive_seed("x") < 2**32


def test_impurities_are_never_defects():
    assert not set(DEFECT_INDICES) & set(IMPURITY_INDICES)
    assert class_index("water_stain") in IMPURITY_INDICES
    with pytest.raises(ValueError, match="unknown class 'rust'"):
        class_index("rust")
