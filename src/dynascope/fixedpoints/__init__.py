"""Fixed points, slow points, linearisation, unstable manifolds and continuation (DESIGN §4)."""

from ._finder import Adam as Adam
from ._finder import LevenbergMarquardt as LevenbergMarquardt
from ._finder import find_fixed_points as find_fixed_points
from ._result import FixedPoints as FixedPoints
from ._result import Status as Status
from ._result import linearise as linearise

__all__ = [
    "Adam",
    "FixedPoints",
    "LevenbergMarquardt",
    "Status",
    "find_fixed_points",
    "linearise",
]
