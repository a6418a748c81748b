"""Reverse-engineering views of trained networks."""

from ._pca import StateSpace as StateSpace
from ._pca import fit_state_space as fit_state_space

__all__ = ["StateSpace", "fit_state_space"]
