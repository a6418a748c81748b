"""Every figure dynascope draws. matplotlib is imported lazily, only when a figure is drawn.

Functions take ``ax=None`` (a new figure is made when omitted) and return the figure objects;
they only draw arrays that the analysis modules computed.
"""

from ._mpl import MissingDependencyError as MissingDependencyError
from ._statespace import plot_eigenvalues as plot_eigenvalues
from ._statespace import plot_state_space as plot_state_space
from ._statespace import plot_training_curve as plot_training_curve

__all__ = [
    "MissingDependencyError",
    "plot_eigenvalues",
    "plot_state_space",
    "plot_training_curve",
]
