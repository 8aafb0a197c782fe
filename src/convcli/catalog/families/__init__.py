"""Parametric kernel families: ``box:5``, ``gaussian:sigma=2,size=9``, ``ring:2,3``, ``sobel:45``.

``_base`` defines what a family is; ``blurs``, ``shapes`` and ``edges``
define them, by kind.
"""

from collections.abc import Collection

from convcli.catalog.families._base import Family, Parameter, rotate
from convcli.catalog.families.blurs import BLURS
from convcli.catalog.families.edges import EDGES
from convcli.catalog.families.shapes import SHAPES
from convcli.catalog.kernel import Kernel

__all__ = ["FAMILIES", "Family", "Parameter", "listed_families", "rotate"]

FAMILIES = {family.name: family for family in (*BLURS, *SHAPES, *EDGES)}


def listed_families(taken: Collection[str]) -> list[Kernel]:
    """Each family at its defaults, named in full where a kernel or set has its bare name.

    ``sobel`` names the built-in magnitude: the family's default is
    ``sobel:angle=0``, the name that gives it back.
    """
    return [family.built(family.parse(""), named_in_full=family.name in taken)
            for family in FAMILIES.values()]  # fmt: skip
