"""Every figure dynascope draws. matplotlib is imported lazily, only when a figure is drawn.

Functions take ``ax=None`` (a new figure is made when omitted) and return the figure objects;
they only draw arrays that the analysis modules computed.
"""

from ._analysis import plot_ablation_curves as plot_ablation_curves
from ._analysis import plot_automaton as plot_automaton
from ._analysis import plot_distilled_flow as plot_distilled_flow
from ._analysis import plot_oscillation_modes as plot_oscillation_modes
from ._analysis import plot_selection_vectors as plot_selection_vectors
from ._analysis import plot_subspace_angles as plot_subspace_angles
from ._analysis import plot_variance_explained as plot_variance_explained
from ._compare import plot_distance_matrices as plot_distance_matrices
from ._cycles import plot_cycles as plot_cycles
from ._explorer import ComparisonExplorer as ComparisonExplorer
from ._explorer import Explorer as Explorer
from ._explorer import explore_continuation as explore_continuation
from ._explorer import explore_fixed_points as explore_fixed_points
from ._lowrank import plot_effective_couplings as plot_effective_couplings
from ._lowrank import plot_flow_curves as plot_flow_curves
from ._lowrank import plot_flow_field as plot_flow_field
from ._lowrank import plot_flow_panels as plot_flow_panels
from ._lowrank import plot_latents as plot_latents
from ._lowrank import plot_loadings as plot_loadings
from ._lowrank import plot_resampled_accuracy as plot_resampled_accuracy
from ._mpl import MissingDependencyError as MissingDependencyError
from ._networks import plot_capacity_curve as plot_capacity_curve
from ._networks import plot_memory_times as plot_memory_times
from ._networks import plot_overlaps as plot_overlaps
from ._nlp import plot_class_states as plot_class_states
from ._nlp import plot_line_attractor as plot_line_attractor
from ._nlp import plot_line_spectra as plot_line_spectra
from ._nlp import plot_modifier_decay as plot_modifier_decay
from ._nlp import plot_modifier_factors as plot_modifier_factors
from ._nlp import plot_valence as plot_valence
from ._points import POINT_STYLE as POINT_STYLE
from ._points import describe_points as describe_points
from ._points import group_by_kind as group_by_kind
from ._points import legend_labels as legend_labels
from ._points import legend_outside as legend_outside
from ._points import merge_legends as merge_legends
from ._statespace import plot_eigenvalues as plot_eigenvalues
from ._statespace import plot_state_space as plot_state_space
from ._statespace import plot_training_curve as plot_training_curve
from ._sweeps import plot_sweep_counts as plot_sweep_counts
from ._sweeps import plot_sweep_metric as plot_sweep_metric
from ._sweeps import plot_sweep_successes as plot_sweep_successes

__all__ = [
    "ComparisonExplorer",
    "Explorer",
    "explore_continuation",
    "explore_fixed_points",
    "MissingDependencyError",
    "plot_capacity_curve",
    "plot_effective_couplings",
    "plot_flow_curves",
    "plot_flow_field",
    "plot_latents",
    "plot_flow_panels",
    "plot_loadings",
    "plot_resampled_accuracy",
    "plot_memory_times",
    "plot_overlaps",
    "plot_eigenvalues",
    "plot_state_space",
    "plot_training_curve",
    "plot_class_states",
    "plot_line_attractor",
    "plot_line_spectra",
    "plot_modifier_decay",
    "plot_modifier_factors",
    "plot_valence",
    "plot_ablation_curves",
    "plot_automaton",
    "plot_distilled_flow",
    "plot_oscillation_modes",
    "plot_selection_vectors",
    "plot_subspace_angles",
    "plot_variance_explained",
    "plot_sweep_counts",
    "plot_sweep_metric",
    "plot_sweep_successes",
    "plot_cycles",
    "plot_distance_matrices",
    "POINT_STYLE",
    "describe_points",
    "group_by_kind",
    "legend_labels",
    "legend_outside",
    "merge_legends",
]
