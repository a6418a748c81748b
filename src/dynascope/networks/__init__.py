"""Constructed networks (section 3): Hopfield point attractors and line attractors (eqs. 5–7)."""

from ._hopfield import CapacityCurve as CapacityCurve
from ._hopfield import SignHopfield as SignHopfield
from ._hopfield import capacity_curve as capacity_curve
from ._hopfield import corrupt as corrupt
from ._hopfield import hopfield as hopfield
from ._hopfield import hopfield_matrix as hopfield_matrix
from ._hopfield import hopfield_overlap_dynamics as hopfield_overlap_dynamics
from ._hopfield import overlaps as overlaps
from ._hopfield import random_patterns as random_patterns
from ._hopfield import sign_sweep as sign_sweep
from ._line import MemoryTime as MemoryTime
from ._line import line_attractor as line_attractor
from ._line import memory_time as memory_time
from ._planted import CELL_TYPES as CELL_TYPES
from ._planted import MECHANISMS as MECHANISMS
from ._planted import PlantedNetwork as PlantedNetwork
from ._planted import planted_network as planted_network
from ._planted import planted_weights as planted_weights

__all__ = [
    "CapacityCurve",
    "MemoryTime",
    "SignHopfield",
    "capacity_curve",
    "corrupt",
    "hopfield",
    "hopfield_matrix",
    "hopfield_overlap_dynamics",
    "line_attractor",
    "memory_time",
    "overlaps",
    "random_patterns",
    "sign_sweep",
    "CELL_TYPES",
    "MECHANISMS",
    "planted_network",
    "PlantedNetwork",
    "planted_weights",
]
