"""Low-rank networks reduced to latent dynamics (sections 3.3, 4.2; eqs. 8–11).

- :func:`latent_trajectories`, :func:`project_latents`: the latents κ and filtered inputs v.
- :func:`fit_populations`, :class:`Populations`: Gaussian-mixture population structure.
- :class:`MeanFieldReduction`, :func:`simulate_reduced`, :func:`effective_couplings`: the
  reduced D-dimensional system.
- :func:`finite_size_fluctuations`, :func:`latent_r2_report`: the expected O(1/√N) deviation of a
  drawn network's latents from the reduced ones, and R² stated against it.
- :func:`reduced_fixed_points`, :func:`flow_field`, :func:`find_limit_cycles`: its landscape.
- :func:`network_fixed_points`, :func:`network_couplings`: the finite network's own fixed points
  (exact) and effective couplings, without a mixture.
- :func:`refine_populations`: train a mixture through the mean-field model on a task.
- :func:`resample`: draw a new network of any size from the mixture.
- :func:`minimal_rank`: the smallest rank that solves a task (with any :class:`Trainer`).
"""

from ._fluctuations import FiniteSizeFluctuations as FiniteSizeFluctuations
from ._fluctuations import LatentR2 as LatentR2
from ._fluctuations import finite_size_fluctuations as finite_size_fluctuations
from ._fluctuations import latent_r2_report as latent_r2_report
from ._gating import ContextGating as ContextGating
from ._gating import context_gating as context_gating
from ._gating import input_carriers as input_carriers
from ._gauss import gauss_hermite as gauss_hermite
from ._gauss import gaussian_averages as gaussian_averages
from ._landscape import FlowField as FlowField
from ._landscape import ReducedFixedPoints as ReducedFixedPoints
from ._landscape import find_limit_cycles as find_limit_cycles
from ._landscape import flow_field as flow_field
from ._landscape import reduced_fixed_points as reduced_fixed_points
from ._latents import LatentTrajectories as LatentTrajectories
from ._latents import filtered_inputs as filtered_inputs
from ._latents import latent_r2 as latent_r2
from ._latents import latent_trajectories as latent_trajectories
from ._latents import project_latents as project_latents
from ._meanfield import EffectiveCouplings as EffectiveCouplings
from ._meanfield import ReducedTrajectories as ReducedTrajectories
from ._meanfield import effective_couplings as effective_couplings
from ._meanfield import reduced_drift as reduced_drift
from ._meanfield import reduced_readout as reduced_readout
from ._meanfield import simulate_reduced as simulate_reduced
from ._network import network_couplings as network_couplings
from ._network import network_drift as network_drift
from ._network import network_fixed_points as network_fixed_points
from ._populations import Populations as Populations
from ._populations import fit_populations as fit_populations
from ._populations import load_populations as load_populations
from ._populations import loadings as loadings
from ._populations import save_populations as save_populations
from ._rank import MinimalRankResult as MinimalRankResult
from ._rank import Trainer as Trainer
from ._rank import minimal_rank as minimal_rank
from ._reduction import MeanFieldReduction as MeanFieldReduction
from ._refine import RefineResult as RefineResult
from ._refine import refine_populations as refine_populations
from ._resample import resample as resample

__all__ = [
    "ContextGating",
    "context_gating",
    "input_carriers",
    "EffectiveCouplings",
    "FiniteSizeFluctuations",
    "FlowField",
    "LatentR2",
    "LatentTrajectories",
    "MeanFieldReduction",
    "MinimalRankResult",
    "Populations",
    "ReducedFixedPoints",
    "ReducedTrajectories",
    "RefineResult",
    "Trainer",
    "effective_couplings",
    "filtered_inputs",
    "find_limit_cycles",
    "finite_size_fluctuations",
    "fit_populations",
    "flow_field",
    "gauss_hermite",
    "gaussian_averages",
    "latent_r2",
    "latent_r2_report",
    "latent_trajectories",
    "load_populations",
    "loadings",
    "minimal_rank",
    "network_couplings",
    "network_drift",
    "network_fixed_points",
    "project_latents",
    "reduced_drift",
    "reduced_fixed_points",
    "reduced_readout",
    "refine_populations",
    "resample",
    "save_populations",
    "simulate_reduced",
]
