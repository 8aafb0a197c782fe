"""Parametric kernel families: ``box:5``, ``gaussian:sigma=2,size=9``, ``ring:2,3``, ``sobel:45``.

``_base`` defines what a family is; ``blurs``, ``shapes`` and ``edges``
define them, by kind.
"""

from convcli.catalog.families._base import MAX_SIZE, Family, Parameter, rotate
from convcli.catalog.families.blurs import BLURS
from convcli.catalog.families.edges import EDGES
from convcli.catalog.families.shapes import SHAPES

__all__ = ["FAMILIES", "MAX_SIZE", "Family", "Parameter", "rotate"]

FAMILIES = {family.name: family for family in (*BLURS, *SHAPES, *EDGES)}
