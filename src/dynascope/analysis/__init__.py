"""Reverse-engineering views of trained networks."""

from ._pca import StateSpace as StateSpace
from ._pca import fit_state_space as fit_state_space

__all__ = ["StateSpace", "fit_state_space"]
from ._automaton import Automaton as Automaton  # noqa: E402
from ._automaton import extract_automaton as extract_automaton  # noqa: E402
from ._automaton import flipflop_symbols as flipflop_symbols  # noqa: E402
from ._automaton import flipflop_truth as flipflop_truth  # noqa: E402

__all__ += ["Automaton", "extract_automaton", "flipflop_symbols", "flipflop_truth"]
from ._oscillation import OscillationModes as OscillationModes  # noqa: E402
from ._oscillation import oscillation_modes as oscillation_modes  # noqa: E402

__all__ += ["OscillationModes", "oscillation_modes"]
from ._ablation import AblatedModel as AblatedModel  # noqa: E402
from ._ablation import AblationCurve as AblationCurve  # noqa: E402
from ._ablation import ablation_curve as ablation_curve  # noqa: E402
from ._ablation import unit_scores as unit_scores  # noqa: E402

__all__ += ["AblatedModel", "AblationCurve", "ablation_curve", "unit_scores"]
from ._distill import Distillation as Distillation  # noqa: E402
from ._distill import StateFlowField as StateFlowField  # noqa: E402
from ._distill import distill as distill  # noqa: E402
from ._distill import state_flow_field as state_flow_field  # noqa: E402

__all__ += ["Distillation", "StateFlowField", "distill", "state_flow_field"]
from ._compare import FixedPointComparison as FixedPointComparison  # noqa: E402
from ._compare import ModelComparison as ModelComparison  # noqa: E402
from ._compare import StateComparison as StateComparison  # noqa: E402
from ._compare import compare_fixed_points as compare_fixed_points  # noqa: E402
from ._compare import compare_models as compare_models  # noqa: E402
from ._compare import compare_states as compare_states  # noqa: E402

__all__ += [
    "FixedPointComparison",
    "ModelComparison",
    "StateComparison",
    "compare_fixed_points",
    "compare_models",
    "compare_states",
]
from ._selection import RegressionSubspaces as RegressionSubspaces  # noqa: E402
from ._selection import SelectionVectors as SelectionVectors  # noqa: E402
from ._selection import regression_subspaces as regression_subspaces  # noqa: E402
from ._selection import selection_vectors as selection_vectors  # noqa: E402

__all__ += [
    "RegressionSubspaces",
    "SelectionVectors",
    "regression_subspaces",
    "selection_vectors",
]
from ._views import condition_averages as condition_averages  # noqa: E402
from ._views import project_fixed_points as project_fixed_points  # noqa: E402

__all__ += ["condition_averages", "project_fixed_points"]
from ._dsa import DMDResult as DMDResult  # noqa: E402
from ._dsa import DynamicalSimilarity as DynamicalSimilarity  # noqa: E402
from ._dsa import delay_embed as delay_embed  # noqa: E402
from ._dsa import dmd as dmd  # noqa: E402
from ._dsa import eigenvalue_wasserstein as eigenvalue_wasserstein  # noqa: E402
from ._dsa import procrustes_vector_field as procrustes_vector_field  # noqa: E402

__all__ += [
    "DMDResult",
    "DynamicalSimilarity",
    "delay_embed",
    "dmd",
    "eigenvalue_wasserstein",
    "procrustes_vector_field",
]
from ._mechanism import MechanismGraph as MechanismGraph  # noqa: E402
from ._mechanism import mechanism_distance as mechanism_distance  # noqa: E402
from ._mechanism import mechanism_graph as mechanism_graph  # noqa: E402

__all__ += ["MechanismGraph", "mechanism_distance", "mechanism_graph"]
from ._recovery import RecoveryMetrics as RecoveryMetrics  # noqa: E402
from ._recovery import recovery_metrics as recovery_metrics  # noqa: E402

__all__ += ["RecoveryMetrics", "recovery_metrics"]
