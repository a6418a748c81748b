r"""The geometry of integration in C-class text RNNs (Aitken et al. 2020).

A network that classifies documents into C classes accumulates evidence for each class as it
reads. Aitken et al. found that the states it visits, and its fixed points at zero input, lie
on a low-dimensional attractor manifold: for C categorical classes a (C − 1)-dimensional
simplex with one corner per class; for ordered classes (star ratings) fewer dimensions, an
ordered curve or plane. This module measures that geometry instead of assuming it:

- the **dimension** of a point set: principal components for 90% of its variance, and the
  participation ratio :math:`(\sum_i \lambda_i)^2 / \sum_i \lambda_i^2` of its covariance
  eigenvalues (both invariant to rotations and to the order of units);
- the **shape** of the class centroids of the final states: how many dimensions they span, how
  evenly spaced they are (a regular simplex has all pairwise distances equal), and whether they
  lie in class order along their first principal axis (an ordered curve);
- the **alignment** of the manifold's principal directions with the readout's class subspace
  (the rows of the readout, centred across classes, since softmax ignores a common shift);
- each word's **displacement** along the class directions: how far one token moves the state's
  logits, averaged over the fixed points (the C-class analogue of a word's valence).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.stats import spearmanr

from .._validation import check_float
from ..exceptions import InvalidParameterError, ShapeError
from ..models import RNNModel, analysis_copy
from ._dynamics import attractor_dimension

__all__ = [
    "ClassGeometry",
    "class_geometry",
    "class_readout",
    "participation_ratio",
    "word_displacement",
]


def participation_ratio(points: np.ndarray | torch.Tensor) -> float:
    r"""Participation ratio :math:`(\sum_i \lambda_i)^2 / \sum_i \lambda_i^2` of the covariance.

    1 for points on a line, ``d`` for points spread evenly over ``d`` orthogonal directions.

    Parameters
    ----------
    points : array, shape (..., n_dims)

    Returns
    -------
    float
        NaN when the points do not vary.
    """
    x = np.asarray(torch.as_tensor(points).double().numpy())
    x = x.reshape(-1, x.shape[-1])
    lam = np.linalg.svd(x - x.mean(axis=0), compute_uv=False) ** 2
    total = float(np.sum(lam**2))
    return float(np.sum(lam) ** 2 / total) if total > 0 else float("nan")


def class_readout(model: RNNModel) -> np.ndarray:
    """The readout's class directions in state coordinates, centred across classes.

    Row ``k`` is the gradient of logit ``k`` minus the mean gradient: the direction that
    raises class ``k``'s softmax probability against the others. Their span (rank C − 1) is
    the subspace the readout reads.

    Parameters
    ----------
    model : RNNModel
        A C-logit model (C ≥ 3), e.g. :meth:`TextClassifier.rnn_model` of a C-class classifier.

    Returns
    -------
    ndarray, shape (C, state_size)
    """
    if model.n_out < 3:
        raise InvalidParameterError(
            f"class_readout needs a model with one logit per class (C >= 3); this model has "
            f"n_out={model.n_out}. For two classes use find_line_attractor."
        )
    m64 = analysis_copy(model)
    s = m64.state_size
    with torch.no_grad():
        w = (m64.readout(torch.eye(s, dtype=torch.float64)) - m64.readout(
            torch.zeros(1, s, dtype=torch.float64)
        )).numpy().T  # fmt: skip
    return w - w.mean(axis=0, keepdims=True)


def _pcs(x: np.ndarray, k: int) -> np.ndarray:
    """The first ``k`` principal axes of ``x`` (rows, unit norm)."""
    _, _, vt = np.linalg.svd(x - x.mean(axis=0), full_matrices=False)
    return vt[:k]


def _alignment(axes: np.ndarray, readout: np.ndarray) -> np.ndarray:
    """Norm of each unit axis's projection on the readout's row space (1 = inside it)."""
    u, sing, _ = np.linalg.svd(readout.T, full_matrices=False)
    basis = u[:, sing > sing.max() * 1e-10]
    return np.linalg.norm(axes @ basis, axis=1)


@dataclass(frozen=True, eq=False)
class ClassGeometry:
    """Measured geometry of a C-class network's states and fixed points (:func:`class_geometry`).

    Attributes
    ----------
    n_classes : int
    final_ratio, points_ratio : ndarray, shape (state_size,)
        Explained variance ratio of the PCA of the documents' final states, and of the fixed
        (and slow) points.
    final_dim90, points_dim90 : int
        Principal components for 90% of that variance.
    final_pr, points_pr : float
        Participation ratios.
    n_points : int
        Fixed and slow points measured.
    centroids : ndarray, shape (C, state_size)
        Mean final state of each class.
    centroid_ratio : ndarray, shape (C - 1,)
        Explained variance ratio of the centroids (at most C − 1 directions).
    centroid_dim90 : int
        Centroid PCs for 90% of their variance (C − 1 for a simplex).
    centroid_spacing : float
        Smallest over largest pairwise distance of the centroids (1 for a regular simplex).
    order_rho : float
        ``|Spearman ρ|`` between the class index and each centroid's position along the
        centroids' first axis (1 when the classes lie in order, as on an ordered curve).
    nearest_adjacent : float
        Fraction of classes whose nearest other centroid is a neighbouring class (k ± 1).
    readout_alignment : ndarray, shape (C - 1,)
        For each of the fixed points' first C − 1 principal axes (the final states' when
        fewer than C points were found), the norm of its projection onto the readout's class
        subspace (1 = inside it).
    """

    n_classes: int
    final_ratio: np.ndarray
    final_dim90: int
    final_pr: float
    points_ratio: np.ndarray
    points_dim90: int
    points_pr: float
    n_points: int
    centroids: np.ndarray
    centroid_ratio: np.ndarray
    centroid_dim90: int
    centroid_spacing: float
    order_rho: float
    nearest_adjacent: float
    readout_alignment: np.ndarray


def class_geometry(
    final_states: np.ndarray,
    labels: np.ndarray,
    points: np.ndarray,
    readout: np.ndarray,
    *,
    threshold: float = 0.9,
) -> ClassGeometry:
    """Dimension, shape and readout alignment of a C-class network's integration manifold.

    Parameters
    ----------
    final_states : ndarray, shape (n_docs, state_size)
        State after each document's last token.
    labels : ndarray of int, shape (n_docs,)
        True class of each document, ``0 .. C - 1`` (every class present).
    points : ndarray, shape (n_points, state_size)
        Fixed and slow points at zero input (:func:`~dynascope.fixedpoints.find_fixed_points`).
    readout : ndarray, shape (C, state_size)
        Class directions (:func:`class_readout`).
    threshold : float
        Variance fraction for the ``*_dim90`` counts.

    Returns
    -------
    ClassGeometry
    """
    threshold = check_float(
        threshold, "threshold", "class_geometry", min_value=0.0, max_value=1.0,
        min_inclusive=False,
    )  # fmt: skip
    x = np.asarray(final_states, dtype=np.float64)
    y = np.asarray(labels)
    p = np.asarray(points, dtype=np.float64)
    w = np.asarray(readout, dtype=np.float64)
    c = w.shape[0]
    if x.ndim != 2 or y.shape != (x.shape[0],) or p.ndim != 2 or w.ndim != 2:
        raise ShapeError(
            "final_states must be (n_docs, state_size), labels (n_docs,), points (n_points, "
            f"state_size) and readout (C, state_size); got {x.shape}, {y.shape}, {p.shape} and "
            f"{w.shape}."
        )
    if set(np.unique(y).tolist()) != set(range(c)):
        raise InvalidParameterError(
            f"class_geometry needs documents of every class 0..{c - 1} (the readout has C={c} "
            f"rows); the labels hold {sorted(set(np.unique(y).tolist()))}."
        )
    final_dim, final_ratio = attractor_dimension(x, threshold=threshold)
    if p.shape[0] >= 2:
        points_dim, points_ratio = attractor_dimension(p, threshold=threshold)
        points_pr = participation_ratio(p)
    else:
        points_dim, points_ratio, points_pr = 0, np.zeros(x.shape[1]), float("nan")
    cent = np.stack([x[y == k].mean(axis=0) for k in range(c)])
    cent_dim, cent_ratio = attractor_dimension(cent, threshold=threshold)
    dist = np.linalg.norm(cent[:, None] - cent[None], axis=-1)
    off = dist[~np.eye(c, dtype=bool)]
    spacing = float(off.min() / off.max()) if off.max() > 0 else float("nan")
    position = (cent - cent.mean(axis=0)) @ _pcs(cent, 1)[0]
    rho = float(abs(spearmanr(np.arange(c), position).statistic))
    np.fill_diagonal(dist, np.inf)
    nearest = dist.argmin(axis=1)
    adjacent = float(np.mean(np.abs(nearest - np.arange(c)) == 1))
    axes = _pcs(p if p.shape[0] >= c else x, c - 1)
    return ClassGeometry(
        n_classes=c,
        final_ratio=final_ratio,
        final_dim90=final_dim,
        final_pr=participation_ratio(x),
        points_ratio=points_ratio,
        points_dim90=points_dim,
        points_pr=points_pr,
        n_points=int(p.shape[0]),
        centroids=cent,
        centroid_ratio=cent_ratio[: c - 1],
        centroid_dim90=cent_dim,
        centroid_spacing=spacing,
        order_rho=rho,
        nearest_adjacent=adjacent,
        readout_alignment=_alignment(axes, w),
    )


def word_displacement(
    model: RNNModel,
    points: np.ndarray,
    embeddings: np.ndarray,
    word_ids: np.ndarray,
    readout: np.ndarray,
) -> np.ndarray:
    r"""How far one token of each word moves the logits, along each class direction.

    For word :math:`w` and point :math:`x^*`, :math:`\Delta_w = W_c\,[F(x^*, e_w) - F(x^*, 0)]`,
    averaged over the points, with :math:`W_c` the centred class directions
    (:func:`class_readout`). Row ``w`` is the word's evidence for each class, the C-class
    analogue of a sentiment word's valence (compare with a multinomial bag of words' weights).

    Parameters
    ----------
    model : RNNModel
        The classifier's RNN, inputs = embeddings.
    points : ndarray, shape (n_points, state_size)
        Where to measure (fixed points at zero input, or visited states).
    embeddings : ndarray, shape (n_words, n_in)
    word_ids : ndarray of int, shape (n_selected,)
    readout : ndarray, shape (C, state_size)

    Returns
    -------
    ndarray, shape (n_selected, C)
    """
    p = np.asarray(points, dtype=np.float64)
    ids = np.asarray(word_ids, dtype=np.int64)
    if p.ndim != 2 or p.shape[0] == 0:
        raise ShapeError(f"points must have shape (n_points >= 1, state_size); got {p.shape}.")
    m64 = analysis_copy(model)
    e = torch.as_tensor(np.asarray(embeddings, dtype=np.float64)[ids])
    x = torch.as_tensor(p)
    out = np.zeros((ids.size, readout.shape[0]))
    with torch.no_grad():
        base = m64.step(x, torch.zeros(x.shape[0], e.shape[1], dtype=torch.float64))
        for i in range(ids.size):
            moved = m64.step(x, e[i].expand(x.shape[0], -1))
            out[i] = ((moved - base).numpy() @ readout.T).mean(axis=0)
    return out
