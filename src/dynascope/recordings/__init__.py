"""Recorded activity in, and an RNN fitted to it (the seed's section 5.2 workflow).

- :class:`Recordings`: the one in-memory form of recorded trials (activity, mask, inputs,
  conditions, held-out units, trial splits, what was measured), :func:`load_recordings` reads it
  from files, :func:`save_recordings` writes the documented ``.npz`` format;
- :func:`fit_to_recordings`: a network whose activity matches the recordings, to be
  reverse-engineered like any other model and compared with the system that produced the data
  (:func:`dynascope.analysis.recovery_metrics`, :func:`dynascope.analysis.mechanism_distance`).
- :func:`make_ctdb_flipflop`: spiking data by the Computation-through-Dynamics Benchmark's
  recipe from a flip-flop network, and its four scores (:func:`ctdb_scores`).
"""

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
from ._load import load_recordings

__all__ = [
    "CTDB_3BFF_GRU",
    "FIT_MODELS",
    "LIKELIHOODS",
    "QUANTITIES",
    "SPLITS",
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
    "fit_to_recordings",
    "load_recordings",
    "make_ctdb_flipflop",
    "save_recordings",
]
