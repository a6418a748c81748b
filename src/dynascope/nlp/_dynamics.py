"""Reverse-engineering a sentiment RNN: the line attractor and the documents' states.

Maheswaranathan et al. (2019) found that RNNs trained on sentiment classification integrate
evidence along an approximate line attractor: the fixed points at zero input lie on a line, each
with one eigenvalue :math:`|\\lambda| \\approx 1` along the line and fast decay off it, and the
line is aligned with the readout. Each word moves the state along the line by an amount that
plays the role of its bag-of-words weight (its *valence*). Maheswaranathan & Sussillo (2020)
showed that modifier words ("not", "very") push the state off the line into a transient region
where the next words' valences are flipped or amplified.

Word valence and modifier words are in :mod:`._words`. Every function takes the dynascope model
of the RNN (:meth:`TextClassifier.rnn_model`, inputs = word embeddings) and works on a float64
copy of it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .._validation import check_bool, check_float, check_int
from ..exceptions import InvalidParameterError, ShapeError
from ..fixedpoints import FixedPoints, LevenbergMarquardt, find_fixed_points
from ..models import RNNModel, analysis_copy

__all__ = [
    "LineAttractor",
    "attractor_dimension",
    "document_states",
    "find_line_attractor",
    "linearization_error",
    "rnn_accuracy",
]


def _readout_vector(model: RNNModel) -> np.ndarray:
    """The readout's weight vector in state coordinates (one-logit models only)."""
    if model.n_out != 1:
        raise InvalidParameterError(
            f"Line-attractor analyses need a model with one logit (two classes); this model has "
            f"n_out={model.n_out}. For more classes, use the PCA of the states "
            "(attractor_dimension)."
        )
    s = model.state_size
    eye = torch.eye(s, dtype=torch.float64)
    with torch.no_grad():
        z = model.readout(eye)[:, 0] - model.readout(torch.zeros(1, s, dtype=torch.float64))[0, 0]
    return z.numpy()


@dataclass(frozen=True, eq=False)
class LineAttractor:
    """Fixed and slow points at zero input, the line through them, and its linearisation.

    Attributes
    ----------
    points : FixedPoints
        The points, sorted by position along the line.
    position : ndarray, shape (n_points,)
        Coordinate of each point along ``direction`` (relative to ``center``).
    center, direction : ndarray, shape (state_size,)
        Mean of the points and their first principal axis (unit norm, oriented so that the
        readout increases along it).
    line_variance : float
        Fraction of the points' variance along ``direction`` (1 for a perfect line).
    readout_weights : ndarray, shape (state_size,)
        Gradient of the logit with respect to the state.
    logits : ndarray, shape (n_points,)
        Readout of each point.
    cos_line_readout : float
        ``|cos|`` of the angle between the line and the readout weights.
    cos_mode_readout : ndarray, shape (n_points,)
        ``|cos|`` between each point's slowest right eigenvector and the readout weights.
    top_abs_eigval : ndarray, shape (n_points,)
        Largest ``|λ|`` at each point.
    time_constants : ndarray, shape (n_points, 2)
        Time constants (in tokens) of the slowest and second-slowest modes.
    """

    points: FixedPoints
    position: np.ndarray
    center: np.ndarray
    direction: np.ndarray
    line_variance: float
    readout_weights: np.ndarray
    logits: np.ndarray
    cos_line_readout: float
    cos_mode_readout: np.ndarray
    top_abs_eigval: np.ndarray
    time_constants: np.ndarray

    def __len__(self) -> int:
        return len(self.points)

    def slow_mode(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Right eigenvector ``r``, left eigenvector ``l`` (``l·r = 1``) and eigenvalue of the
        slowest mode at each point, real parts: ``(n_points, S), (n_points, S), (n_points,)``."""
        if self.points.eigvecs_right is None or self.points.eigvecs_left is None:
            raise InvalidParameterError(
                "The line's points have no eigenvectors; find them with compute_jacobians=True."
            )
        r = self.points.eigvecs_right[:, :, 0].real.copy()
        l = self.points.eigvecs_left[:, :, 0].real.copy()
        lam = self.points.eigvals[:, 0].real.copy()  # type: ignore[index]
        # orient r along the line (then l follows) so that valences have a fixed sign
        flip = np.sign(r @ self.direction)
        flip[flip == 0] = 1
        r *= flip[:, None]
        l *= flip[:, None]
        l /= np.sum(l * r, axis=1, keepdims=True)
        return r, l, lam


def find_line_attractor(
    model: RNNModel,
    states: np.ndarray | torch.Tensor,
    *,
    n_init: int = 512,
    noise: float = 0.0,
    tol: float = 1e-8,
    slow_tol: float | None = 1e-6,
    polish: bool = True,
    seed: int | None = 0,
) -> LineAttractor:
    """Find the fixed (and slow) points at zero input and describe the line they form.

    Parameters
    ----------
    model : RNNModel
        The classifier's RNN (one logit), inputs = embeddings. Zero input is the padding token.
    states : array, shape (n_docs, n_steps, state_size) or (n_states, state_size)
        States the network visits on real documents; candidates are sampled from them.
    n_init : int
        Number of candidates.
    noise : float
        Noise added to candidates.
    tol, slow_tol : float
        Residual tolerances of :func:`find_fixed_points` (a line attractor is made of nearly
        fixed points: keep slow ones with ``q <= slow_tol``; ``None`` keeps only fixed points).
    polish : bool
        Polish candidates with Newton's method (stage 2 of :func:`find_fixed_points`). Polished
        candidates collapse onto the few exact fixed points of the line; without polishing,
        the Adam stage leaves many slow points spread along it (better for pictures; their
        eigenvalues are those of slow points, slightly off the fixed points').
    seed : int, optional

    Returns
    -------
    LineAttractor

    Raises
    ------
    InvalidParameterError
        If the model has more than one logit or fewer than two points are found.
    """
    w = _readout_vector(model)
    fps = find_fixed_points(
        model,
        initial_states=states,
        n_init=check_int(n_init, "n_init", "find_line_attractor", min_value=2),
        noise=noise,
        tol=tol,
        slow_tol=slow_tol,
        seed=seed,
        stage2=LevenbergMarquardt()
        if check_bool(polish, "polish", "find_line_attractor")
        else None,
    )
    if len(fps) < 2:
        raise InvalidParameterError(
            f"Only {len(fps)} fixed/slow point(s) found; a line needs at least two. Raise "
            "slow_tol or n_init, or check that the network was trained."
        )
    x = fps.x_star
    center = x.mean(axis=0)
    _, sing, vt = np.linalg.svd(x - center, full_matrices=False)
    direction = vt[0] / np.linalg.norm(vt[0])
    if direction @ w < 0:
        direction = -direction  # readout increases along the line
    line_variance = float(sing[0] ** 2 / max(np.sum(sing**2), 1e-300))
    position = (x - center) @ direction
    order = np.argsort(position, kind="stable")
    fps = fps[order]
    position = position[order]
    m64 = analysis_copy(model)
    with torch.no_grad():
        logits = m64.readout(torch.as_tensor(fps.x_star))[:, 0].numpy()
    wn = w / max(np.linalg.norm(w), 1e-300)
    r = fps.eigvecs_right[:, :, 0].real  # type: ignore[index]
    r = r / np.linalg.norm(r, axis=1, keepdims=True)
    tc = np.full((len(fps), 2), np.nan)
    k = min(2, fps.time_constants.shape[1])
    tc[:, :k] = fps.time_constants[:, :k]
    return LineAttractor(
        points=fps,
        position=position,
        center=center,
        direction=direction,
        line_variance=line_variance,
        readout_weights=w,
        logits=logits,
        cos_line_readout=float(abs(direction @ wn)),
        cos_mode_readout=np.abs(r @ wn),
        top_abs_eigval=np.abs(fps.eigvals[:, 0]),  # type: ignore[index]
        time_constants=tc,
    )


def linearization_error(
    model: RNNModel,
    line: LineAttractor,
    states: np.ndarray | torch.Tensor,
    inputs: np.ndarray | torch.Tensor,
) -> np.ndarray:
    r"""Relative one-step error of the linearisation about the nearest point of the line.

    For each visited state :math:`x_t` and the next input :math:`u_{t+1}`, with :math:`x^*` the
    nearest point, :math:`J = \partial F/\partial x` and :math:`B = \partial F/\partial u` there,

    .. math:: e_t = \frac{\|x^* + J(x_t - x^*) + B u_{t+1} - F(x_t, u_{t+1})\|}
                         {\|F(x_t, u_{t+1}) - x_t\|}.

    Parameters
    ----------
    model : RNNModel
    line : LineAttractor
    states : array, shape (n, state_size)
        States :math:`x_t`.
    inputs : array, shape (n, n_in)
        The inputs :math:`u_{t+1}` that follow them.

    Returns
    -------
    ndarray, shape (n,)
    """
    x = np.asarray(torch.as_tensor(states).double().numpy())
    u = np.asarray(torch.as_tensor(inputs).double().numpy())
    if x.ndim != 2 or u.ndim != 2 or x.shape[0] != u.shape[0]:
        raise ShapeError(
            f"states must have shape (n, state_size) and inputs (n, n_in) with the same n; got "
            f"{x.shape} and {u.shape}."
        )
    fps = line.points
    if fps.jacobian is None or fps.jacobian_input is None:
        raise InvalidParameterError(
            "The line's points have no Jacobians; find them with compute_jacobians=True."
        )
    # squared distances by expansion: (n, K) memory instead of (n, K, S)
    p = fps.x_star
    d2 = (x * x).sum(1)[:, None] - 2.0 * x @ p.T + (p * p).sum(1)[None]
    near = d2.argmin(axis=1)
    m64 = analysis_copy(model)
    with torch.no_grad():
        true = m64.step(torch.as_tensor(x), torch.as_tensor(u)).numpy()
    xs = fps.x_star[near]
    pred = xs + np.einsum("nij,nj->ni", fps.jacobian[near], x - xs)
    pred += np.einsum("nij,nj->ni", fps.jacobian_input[near], u)
    denom = np.linalg.norm(true - x, axis=1)
    return np.linalg.norm(pred - true, axis=1) / np.maximum(denom, 1e-12)


def attractor_dimension(
    states: np.ndarray | torch.Tensor, *, threshold: float = 0.9
) -> tuple[int, np.ndarray]:
    """Number of principal components that explain ``threshold`` of the states' variance.

    Parameters
    ----------
    states : array, shape (..., state_size)
        E.g. the final states of many documents.
    threshold : float
        In (0, 1].

    Returns
    -------
    dimension : int
    explained_variance_ratio : ndarray, shape (state_size,)
    """
    threshold = check_float(
        threshold,
        "threshold",
        "attractor_dimension",
        min_value=0.0,
        max_value=1.0,
        min_inclusive=False,
    )
    x = np.asarray(torch.as_tensor(states).double().numpy())
    x = x.reshape(-1, x.shape[-1])
    x = x - x.mean(axis=0)
    sing = np.linalg.svd(x, compute_uv=False)
    ratio = sing**2 / max(np.sum(sing**2), 1e-300)
    return int(np.searchsorted(np.cumsum(ratio), threshold - 1e-12) + 1), ratio


def document_states(
    model: RNNModel, embeddings: np.ndarray, ids: np.ndarray, lengths: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """States of the model on encoded documents, and each document's final logit.

    Parameters
    ----------
    model : RNNModel
        The classifier's RNN (one logit), inputs = embeddings; it runs in its own dtype.
    embeddings : ndarray, shape (n_words, n_in)
    ids : ndarray of int, shape (n_docs, max_len)
        Token ids, left-aligned and zero-padded (:func:`~dynascope.nlp.encode`).
    lengths : ndarray of int, shape (n_docs,)
        Number of tokens of each document (at least 1).

    Returns
    -------
    states : ndarray, shape (n_docs, max(lengths), state_size)
        Every state up to the longest document (padding steps of shorter ones included).
    final_logits : ndarray, shape (n_docs,)
        The logit after each document's last token.
    """
    states, logits = _document_logits(model, embeddings, ids, lengths)
    return states, logits[:, 0]


def _document_logits(
    model: RNNModel, embeddings: np.ndarray, ids: np.ndarray, lengths: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`document_states` with every logit: ``(n_docs, T, S)`` and ``(n_docs, n_out)``."""
    width = int(lengths.max())
    with torch.no_grad():
        states, out = model(torch.as_tensor(embeddings[ids[:, :width]]))
    rows = np.arange(ids.shape[0])
    return states.numpy(), out.numpy()[rows, lengths - 1]


def rnn_accuracy(
    model: RNNModel,
    embeddings: np.ndarray,
    ids: np.ndarray,
    lengths: np.ndarray,
    labels: np.ndarray,
    *,
    batch_size: int = 256,
) -> float:
    """Accuracy of the RNN model on encoded documents.

    One logit (two classes): logit > 0 means class 1; C logits: the largest wins. The model
    runs in float32 on batches of documents of similar length; this is the accuracy of the
    dynascope model that the analyses study (equal to the classifier's own up to float32
    rounding). Arguments as in :func:`document_states`; ``labels`` are ``0 .. C - 1``.
    """
    batch_size = check_int(batch_size, "batch_size", "rnn_accuracy", min_value=1)
    m32 = analysis_copy(model, torch.float32)
    emb32 = np.asarray(embeddings).astype(np.float32)
    order = np.argsort(lengths, kind="stable")
    correct = 0
    for i in range(0, order.size, batch_size):
        b = order[i : i + batch_size]
        _, z = _document_logits(m32, emb32, ids[b], lengths[b])
        pred = (z[:, 0] > 0).astype(int) if z.shape[1] == 1 else z.argmax(axis=1)
        correct += int((pred == labels[b]).sum())
    return correct / max(order.size, 1)
