"""Fixed points, slow points, linearisation, unstable manifolds and continuation (DESIGN §4)."""

from ._certify import certify_latent_points as certify_latent_points
from ._complete import ProvenFixedPoints as ProvenFixedPoints
from ._complete import prove_fixed_points as prove_fixed_points
from ._continuation import Bifurcation as Bifurcation
from ._continuation import BifurcationDiagram as BifurcationDiagram
from ._continuation import continue_fixed_points as continue_fixed_points
from ._cycles import Cycles as Cycles
from ._cycles import find_cycles as find_cycles
from ._exact import ExactFixedPoints as ExactFixedPoints
from ._exact import exact_fixed_points as exact_fixed_points
from ._finder import Adam as Adam
from ._finder import FixedPointFinder as FixedPointFinder
from ._finder import LevenbergMarquardt as LevenbergMarquardt
from ._finder import find_fixed_points as find_fixed_points
from ._finder import visited_states as visited_states
from ._kinds import POINT_KINDS as POINT_KINDS
from ._kinds import kind_counts as kind_counts
from ._kinds import point_kinds as point_kinds
from ._manifolds import SaddleConnections as SaddleConnections
from ._manifolds import unstable_manifolds as unstable_manifolds
from ._result import FixedPoints as FixedPoints
from ._result import Status as Status
from ._result import linearise as linearise

__all__ = [
    "POINT_KINDS",
    "Adam",
    "Bifurcation",
    "Cycles",
    "ExactFixedPoints",
    "BifurcationDiagram",
    "FixedPointFinder",
    "FixedPoints",
    "LevenbergMarquardt",
    "ProvenFixedPoints",
    "SaddleConnections",
    "Status",
    "certify_latent_points",
    "continue_fixed_points",
    "exact_fixed_points",
    "find_cycles",
    "find_fixed_points",
    "kind_counts",
    "linearise",
    "point_kinds",
    "prove_fixed_points",
    "unstable_manifolds",
    "visited_states",
]
