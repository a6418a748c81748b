"""Recorded activity in, and an RNN fitted to it (the seed's section 5.2 workflow).

- :class:`Recordings`: the one in-memory form of recorded trials (activity, mask, inputs,
  conditions, held-out units, trial splits, what was measured); ``Recordings.from_trials`` pads
  variable-length trials; :func:`load_recordings` reads it from files of the field's formats
  (NWB: :func:`read_nwb`; NLB-style HDF5: :func:`read_hdf5`; NetCDF: :func:`read_netcdf`;
  xarray objects: :func:`recordings_from_xarray`; the readers need ``pip install
  'dynascope[data]'``), :func:`save_recordings` writes the documented ``.npz`` format and
  :func:`write_nwb` an NWB file;
- :func:`fit_to_recordings`: a latent network (GRU, vanilla, rate or low-rank, any size) whose
  readout matches the recordings (Gaussian or Poisson likelihood, task inputs, held-out units
  and trials), to be reverse-engineered like any other model and compared with the system that
  produced the data (:func:`dynascope.analysis.recovery_metrics`,
  :func:`dynascope.analysis.mechanism_distance`); ``dynascope fit`` writes it as a run;
- :func:`fit_constrained`: a network with one unit per recorded neuron (full rank in closed
  form, or low rank by LINT with rank selection on held-out trials);
- :func:`make_ctdb_flipflop`: spiking data by the Computation-through-Dynamics Benchmark's
  recipe from a flip-flop network, and its four scores (:func:`ctdb_scores`).
"""

from ._constrained import ConstrainedFit, fit_constrained
from ._ctdb import (
    CTDB_3BFF_GRU,
    CtdbDataset,
    CtdbScores,
    ctdb_co_bps,
    ctdb_cycle_consistency,
    ctdb_flipflop_generator,
    ctdb_rate_r2,
    ctdb_scores,
    ctdb_state_r2,
    make_ctdb_flipflop,
)
from ._data import QUANTITIES, SPLITS, Recordings, save_recordings
from ._fit import FIT_MODELS, LIKELIHOODS, FittedRecordingModel, fit_to_recordings
from ._formats import read_hdf5, read_netcdf, read_nwb, recordings_from_xarray, write_nwb
from ._load import load_recordings

__all__ = [
    "CTDB_3BFF_GRU",
    "FIT_MODELS",
    "LIKELIHOODS",
    "QUANTITIES",
    "SPLITS",
    "ConstrainedFit",
    "CtdbDataset",
    "CtdbScores",
    "FittedRecordingModel",
    "Recordings",
    "ctdb_co_bps",
    "ctdb_cycle_consistency",
    "ctdb_flipflop_generator",
    "ctdb_rate_r2",
    "ctdb_scores",
    "ctdb_state_r2",
    "fit_constrained",
    "fit_to_recordings",
    "load_recordings",
    "make_ctdb_flipflop",
    "read_hdf5",
    "read_netcdf",
    "read_nwb",
    "recordings_from_xarray",
    "save_recordings",
    "write_nwb",
]
