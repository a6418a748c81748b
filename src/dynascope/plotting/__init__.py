"""Every figure dynascope draws. matplotlib is imported lazily, only when a figure is drawn.

Functions take ``ax=None`` (a new figure is made when omitted) and return the figure objects;
they only draw arrays that the analysis modules computed.
"""

from ._mpl import MissingDependencyError as MissingDependencyError

__all__ = ["MissingDependencyError"]
