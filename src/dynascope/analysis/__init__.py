"""Reverse-engineering views of trained networks."""

from ._ablation import AblatedModel as AblatedModel
from ._ablation import AblationCurve as AblationCurve
from ._ablation import ablation_curve as ablation_curve
from ._ablation import unit_scores as unit_scores
from ._automaton import Automaton as Automaton
from ._automaton import extract_automaton as extract_automaton
from ._automaton import flipflop_symbols as flipflop_symbols
from ._automaton import flipflop_truth as flipflop_truth
from ._compare import FixedPointComparison as FixedPointComparison
from ._compare import ModelComparison as ModelComparison
from ._compare import StateComparison as StateComparison
from ._compare import compare_fixed_points as compare_fixed_points
from ._compare import compare_models as compare_models
from ._compare import compare_states as compare_states
from ._distill import Distillation as Distillation
from ._distill import StateFlowField as StateFlowField
from ._distill import distill as distill
from ._distill import state_flow_field as state_flow_field
from ._dsa import DMDResult as DMDResult
from ._dsa import DynamicalSimilarity as DynamicalSimilarity
from ._dsa import ProcrustesResult as ProcrustesResult
from ._dsa import delay_embed as delay_embed
from ._dsa import dmd as dmd
from ._dsa import eigenvalue_wasserstein as eigenvalue_wasserstein
from ._dsa import procrustes_align as procrustes_align
from ._dsa import procrustes_vector_field as procrustes_vector_field
from ._mechanism import LimitCycle as LimitCycle
from ._mechanism import MechanismGraph as MechanismGraph
from ._mechanism import mechanism_distance as mechanism_distance
from ._mechanism import mechanism_graph as mechanism_graph
from ._oscillation import OscillationModes as OscillationModes
from ._oscillation import oscillation_modes as oscillation_modes
from ._pca import StateSpace as StateSpace
from ._pca import fit_state_space as fit_state_space
from ._recovery import FixedPointRecovery as FixedPointRecovery
from ._recovery import RecoveryMetrics as RecoveryMetrics
from ._recovery import find_attractors_and_saddles as find_attractors_and_saddles
from ._recovery import fixed_point_recovery as fixed_point_recovery
from ._recovery import recovery_metrics as recovery_metrics
from ._selection import RegressionSubspaces as RegressionSubspaces
from ._selection import SelectionVectors as SelectionVectors
from ._selection import regression_subspaces as regression_subspaces
from ._selection import selection_vectors as selection_vectors
from ._views import condition_averages as condition_averages
from ._views import project_fixed_points as project_fixed_points

__all__ = [
    "StateSpace",
    "fit_state_space",
    "Automaton",
    "extract_automaton",
    "flipflop_symbols",
    "flipflop_truth",
    "OscillationModes",
    "oscillation_modes",
    "AblatedModel",
    "AblationCurve",
    "ablation_curve",
    "unit_scores",
    "Distillation",
    "StateFlowField",
    "distill",
    "state_flow_field",
    "FixedPointComparison",
    "ModelComparison",
    "StateComparison",
    "compare_fixed_points",
    "compare_models",
    "compare_states",
    "RegressionSubspaces",
    "SelectionVectors",
    "regression_subspaces",
    "selection_vectors",
    "condition_averages",
    "project_fixed_points",
    "DMDResult",
    "DynamicalSimilarity",
    "delay_embed",
    "dmd",
    "eigenvalue_wasserstein",
    "ProcrustesResult",
    "procrustes_align",
    "procrustes_vector_field",
    "LimitCycle",
    "MechanismGraph",
    "mechanism_distance",
    "mechanism_graph",
    "FixedPointRecovery",
    "RecoveryMetrics",
    "find_attractors_and_saddles",
    "fixed_point_recovery",
    "recovery_metrics",
]
