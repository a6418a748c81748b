"""Words on a sentiment RNN's line attractor: valence and modifier words.

Each word moves the state along the line attractor (:mod:`._dynamics`) by an amount that plays
the role of its bag-of-words weight, its *valence* (Maheswaranathan et al., 2019); modifier
words ("not", "very") push the state off the line into a transient region where the next
words' valences are flipped or amplified (Maheswaranathan & Sussillo, 2020).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .._validation import check_int
from ..exceptions import InvalidParameterError, ShapeError
from ..models import RNNModel, analysis_copy
from ._dynamics import LineAttractor

__all__ = [
    "ModifierEffect",
    "ValenceAgreement",
    "WordValence",
    "modifier_effects",
    "modifier_ranking",
    "rank_modifiers",
    "valence_agreement",
    "word_valence",
]


@dataclass(frozen=True, eq=False)
class WordValence:
    """How far each word moves the state along the line attractor, in logit units.

    Attributes
    ----------
    valence : ndarray, shape (n_words,)
        :math:`(w_{out}\\cdot r)\\,l^\\top (F(x^*, e_w) - x^*)`, averaged over the points used:
        the change of the logit the word causes, once the fast modes have decayed.
    valence_linear : ndarray, shape (n_words,)
        The same with the input Jacobian, :math:`(w_{out}\\cdot r)\\,l^\\top B e_w`.
    off_line : ndarray, shape (n_words,)
        Norm of the displacement off the line (the part the slow mode does not carry).
    point_index : ndarray of int
        Indices (into the line's points) of the points averaged over.
    """

    valence: np.ndarray
    valence_linear: np.ndarray
    off_line: np.ndarray
    point_index: np.ndarray

    def ranked(self, tokens: tuple[str, ...], n: int = 20) -> dict[str, list[tuple[str, float]]]:
        """The ``n`` most positive, most negative and most neutral words (ids ≥ 2)."""
        ids = np.arange(2, self.valence.size)
        v = self.valence[ids]
        pos = ids[np.argsort(-v, kind="stable")[:n]]
        neg = ids[np.argsort(v, kind="stable")[:n]]
        neu = ids[np.argsort(np.abs(v), kind="stable")[:n]]
        return {
            name: [(tokens[i], float(self.valence[i])) for i in sel]
            for name, sel in (("positive", pos), ("negative", neg), ("neutral", neu))
        }


def _central_points(line: LineAttractor, n_points: int) -> np.ndarray:
    """Indices of up to ``n_points`` points spread evenly over the middle 80% of the line."""
    k = len(line)
    lo, hi = int(np.floor(0.1 * (k - 1))), int(np.ceil(0.9 * (k - 1)))
    return np.unique(np.round(np.linspace(lo, hi, min(n_points, k))).astype(np.int64))


def word_valence(
    model: RNNModel,
    line: LineAttractor,
    embeddings: np.ndarray,
    *,
    n_points: int = 9,
    batch_size: int = 4096,
) -> WordValence:
    """Valence of every word: its displacement along the line attractor (in logit units).

    Parameters
    ----------
    model : RNNModel
        The classifier's RNN (inputs = embeddings).
    line : LineAttractor
    embeddings : ndarray, shape (n_words, n_in)
        The embedding matrix (:meth:`TextClassifier.embeddings`).
    n_points : int
        Number of points of the line (spread over its middle 80%) to average over.
    batch_size : int
        Words per batch.

    Returns
    -------
    WordValence
    """
    n_points = check_int(n_points, "n_points", "word_valence", min_value=1)
    batch_size = check_int(batch_size, "batch_size", "word_valence", min_value=1)
    emb = np.asarray(embeddings, dtype=np.float64)
    if emb.ndim != 2 or emb.shape[1] != model.n_in:
        raise ShapeError(
            f"embeddings must have shape (n_words, n_in={model.n_in}); got {emb.shape}."
        )
    m64 = analysis_copy(model)
    idx = _central_points(line, n_points)
    r, l, _ = line.slow_mode()
    w = line.readout_weights
    fps = line.points
    n_words = emb.shape[0]
    val = np.zeros(n_words)
    lin = np.zeros(n_words)
    off = np.zeros(n_words)
    e_t = torch.as_tensor(emb)
    for i in idx:
        xs = torch.as_tensor(fps.x_star[i])
        gain = float(w @ r[i])  # logit change per unit along the slow mode
        b = fps.jacobian_input[i]  # type: ignore[index]
        lin += gain * (emb @ (b.T @ l[i]))
        for start in range(0, n_words, batch_size):
            e = e_t[start : start + batch_size]
            with torch.no_grad():
                d = (m64.step(xs.expand(e.shape[0], -1), e) - xs).numpy()
            along = d @ l[i]
            val[start : start + batch_size] += gain * along
            off[start : start + batch_size] += np.linalg.norm(d - along[:, None] * r[i], axis=1)
    k = len(idx)
    return WordValence(val / k, lin / k, off / k, idx)


@dataclass(frozen=True, eq=False)
class ModifierEffect:
    """What a modifier word does to the state and to the words that follow it.

    Attributes
    ----------
    word : str
    valence : float
        Its own valence (logit units).
    off_line : ndarray, shape (n_lags + 1,)
        Mean distance from the line after the modifier, then after each further step at zero
        input (lag 0 = right after the word).
    decay_time : float
        Time constant (tokens) of the decay of ``off_line``, from a log-linear fit.
    factors : ndarray, shape (n_lags,)
        Slope of the probe words' valence after the modifier (with ``lag - 1`` zero-input steps
        between) against their valence from the same state projected onto the line's slow mode
        (so that only the off-line displacement counts): −1 reverses, 2 doubles, 1 is no
        effect.
    probe_words : tuple of str
    probe_plain, probe_modified : ndarray, shape (n_probes,)
        Plain valence of each probe word, and its valence right after the modifier.
    """

    word: str
    valence: float
    off_line: np.ndarray
    decay_time: float
    factors: np.ndarray
    probe_words: tuple[str, ...]
    probe_plain: np.ndarray
    probe_modified: np.ndarray


def _run_logit(
    m64: RNNModel, x: torch.Tensor, seq: list[torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor]:
    with torch.no_grad():
        for u in seq:
            x = m64.step(x, u)
        return x, m64.readout(x)[:, 0]


def _response(
    m64: RNNModel, x0: torch.Tensor, prefix: list[torch.Tensor], probes: torch.Tensor
) -> np.ndarray:
    """Logit change each probe word causes after ``prefix``, averaged over the start states,
    ``(n_probes,)``."""
    k, p = x0.shape[0], probes.shape[0]
    x, z0 = _run_logit(m64, x0, prefix)
    xr = x.repeat_interleave(p, dim=0)
    _, z1 = _run_logit(m64, xr, [probes.repeat(k, 1)])
    return (z1.reshape(k, p) - z0[:, None]).mean(dim=0).numpy()


def _modulation(
    m64: RNNModel,
    x0: torch.Tensor,
    prefix: list[torch.Tensor],
    probes: torch.Tensor,
    r: torch.Tensor,
    l: torch.Tensor,
) -> float:
    """Slope of the probes' response after ``prefix`` against their response from the same
    state projected onto the line's slow mode (its off-line part removed).

    Comparing with the projection rather than with the start point separates the effect of the
    off-line displacement (modulation) from that of moving along the line, where the
    response changes too (it saturates near the ends of the line).
    """
    x, _ = _run_logit(m64, x0, prefix)
    along = ((x - x0) * l).sum(dim=1, keepdim=True)
    projected = x0 + along * r
    return _slope(_response(m64, projected, [], probes), _response(m64, x, [], probes))


def _slope(x: np.ndarray, y: np.ndarray) -> float:
    """Least-squares slope of ``y`` on ``x`` through the origin."""
    return float(x @ y / max(x @ x, 1e-300))


def modifier_effects(
    model: RNNModel,
    line: LineAttractor,
    embeddings: np.ndarray,
    tokens: tuple[str, ...],
    modifiers: tuple[str, ...],
    probe_words: tuple[str, ...],
    *,
    n_points: int = 9,
    n_lags: int = 5,
) -> list[ModifierEffect]:
    """Displacement off the line, its decay, and the change of the next words' valence.

    Starting from points of the line, the network reads the modifier, then ``lag − 1`` steps of
    zero input (padding), then a probe word; the probe's logit change is compared with the one
    it causes from the line directly.

    Parameters
    ----------
    model : RNNModel
    line : LineAttractor
    embeddings : ndarray, shape (n_words, n_in)
    tokens : tuple of str
        Token of each embedding row (:attr:`Vocabulary.tokens`).
    modifiers, probe_words : tuple of str
        Words to test, and the words whose response they change (e.g. "good", "bad").
    n_points : int
        Start points spread over the middle of the line.
    n_lags : int
        Lags 1..n_lags at which the factor is measured.

    Returns
    -------
    list of ModifierEffect
    """
    n_lags = check_int(n_lags, "n_lags", "modifier_effects", min_value=1)
    lookup = {t: i for i, t in enumerate(tokens)}
    missing = [w for w in (*modifiers, *probe_words) if w not in lookup]
    if missing:
        raise InvalidParameterError(
            f"Word(s) {missing} are not in the vocabulary; pass words seen in training."
        )
    if len(probe_words) == 0:
        raise InvalidParameterError("modifier_effects needs at least one probe word.")
    emb = torch.as_tensor(np.asarray(embeddings, dtype=np.float64))
    m64 = analysis_copy(model)
    idx = _central_points(line, n_points)
    x0 = torch.as_tensor(line.points.x_star[idx])
    zero = torch.zeros(len(idx), m64.n_in, dtype=torch.float64)
    probes = emb[[lookup[w] for w in probe_words]]
    plain = _response(m64, x0, [], probes)
    r, l, _ = line.slow_mode()
    r_t, l_t = torch.as_tensor(r[idx]), torch.as_tensor(l[idx])
    out = []
    for word in modifiers:
        u = emb[lookup[word]].expand(len(idx), -1)
        _, z_start = _run_logit(m64, x0, [])
        _, z_mod = _run_logit(m64, x0, [u])
        factors = np.array(
            [
                _modulation(m64, x0, [u] + [zero] * (lag - 1), probes, r_t, l_t)
                for lag in range(1, n_lags + 1)
            ]
        )
        modified = _response(m64, x0, [u], probes)
        dist = []
        x = x0
        with torch.no_grad():
            x = m64.step(x, u)
            for _ in range(n_lags + 1):
                dist.append(float(np.mean(_distance_to_line(line, x.numpy()))))
                x = m64.step(x, zero)
        d = np.asarray(dist)
        ok = d > 1e-12
        if ok.sum() >= 2:
            slope = np.polyfit(np.flatnonzero(ok), np.log(d[ok]), 1)[0]
            decay = float(-1.0 / slope) if slope < 0 else float("inf")
        else:
            decay = 0.0
        out.append(
            ModifierEffect(
                word=word,
                valence=float((z_mod - z_start).mean()),
                off_line=d,
                decay_time=decay,
                factors=factors,
                probe_words=tuple(probe_words),
                probe_plain=plain,
                probe_modified=modified,
            )
        )
    return out


def _distance_to_line(line: LineAttractor, x: np.ndarray) -> np.ndarray:
    """Distance of states to the polyline through the line's points, ``(n,)``."""
    pts = line.points.x_star
    a, b = pts[:-1], pts[1:]
    ab = b - a
    t = np.einsum("nsd,sd->ns", x[:, None, :] - a[None], ab) / np.maximum((ab * ab).sum(1), 1e-300)
    t = np.clip(t, 0.0, 1.0)
    proj = a[None] + t[..., None] * ab[None]
    return np.sqrt(((x[:, None, :] - proj) ** 2).sum(-1)).min(axis=1)


def rank_modifiers(
    model: RNNModel,
    line: LineAttractor,
    embeddings: np.ndarray,
    candidates: np.ndarray,
    probes: np.ndarray,
    *,
    n_points: int = 5,
) -> np.ndarray:
    """How much each candidate word changes the response to the word after it.

    For every candidate word ``c`` (ids), the slope of the probes' valence right after ``c``
    against their valence from the projection of that state onto the line is measured (see
    :func:`modifier_effects`); the score is ``|slope − 1|`` (0: no effect; 2: full reversal).

    Parameters
    ----------
    model : RNNModel
    line : LineAttractor
    embeddings : ndarray, shape (n_words, n_in)
    candidates : ndarray of int, shape (n_candidates,)
        Word ids to score (e.g. the most frequent words).
    probes : ndarray of int, shape (n_probes,)
        Word ids whose response is measured (e.g. the most polar words).
    n_points : int
        Start points on the line.

    Returns
    -------
    slopes : ndarray, shape (n_candidates,)
        The factor of each candidate (sort ``abs(slopes - 1)`` to rank).
    """
    emb = torch.as_tensor(np.asarray(embeddings, dtype=np.float64))
    candidates = np.asarray(candidates, dtype=np.int64)
    probes = np.asarray(probes, dtype=np.int64)
    if candidates.ndim != 1 or probes.ndim != 1 or probes.size == 0:
        raise ShapeError(
            f"candidates and probes must be non-empty 1-d id arrays; got shapes "
            f"{candidates.shape} and {probes.shape}."
        )
    m64 = analysis_copy(model)
    idx = _central_points(line, n_points)
    x0 = torch.as_tensor(line.points.x_star[idx])
    r, l, _ = line.slow_mode()
    r_t, l_t = torch.as_tensor(r[idx]), torch.as_tensor(l[idx])
    pe = emb[probes]
    slopes = np.zeros(candidates.size)
    k = x0.shape[0]
    for j, c in enumerate(candidates):
        slopes[j] = _modulation(m64, x0, [emb[c].expand(k, -1)], pe, r_t, l_t)
    return slopes


@dataclass(frozen=True, eq=False)
class ValenceAgreement:
    """How well the RNN's word valences agree with a linear model's word weights.

    Attributes
    ----------
    frequent : ndarray of int
        Ids of the most frequent words compared (ids 2, 3, ...: the vocabulary's order).
    polar : ndarray of int
        The ``n_polar`` of them with the largest ``|weight|``, most polar first.
    r_frequent, r_polar : float
        Pearson correlation of valence and weight over ``frequent`` and over ``polar``.
    """

    frequent: np.ndarray
    polar: np.ndarray
    r_frequent: float
    r_polar: float


def valence_agreement(
    valence: np.ndarray, weights: np.ndarray, *, n_frequent: int, n_polar: int = 200
) -> ValenceAgreement:
    """Correlate word valences with bag-of-words weights (Maheswaranathan et al. 2019, Fig. 5).

    Parameters
    ----------
    valence, weights : ndarray, shape (n_words,)
        Per word id, e.g. :attr:`WordValence.valence` and :attr:`FittedBagOfWords.weights`.
        Ids 0 and 1 (padding, unknown) are left out.
    n_frequent : int
        Compare the ``n_frequent`` most frequent words (ids ``2 .. n_frequent + 1``).
    n_polar : int
        Also compare the ``n_polar`` of them with the largest ``|weight|``.
    """
    valence = np.asarray(valence, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    if valence.shape != weights.shape or valence.ndim != 1:
        raise ShapeError(
            f"valence and weights must be 1-d arrays of one length; got shapes "
            f"{valence.shape} and {weights.shape}."
        )
    n_frequent = check_int(n_frequent, "n_frequent", "valence_agreement", min_value=2)
    n_polar = check_int(n_polar, "n_polar", "valence_agreement", min_value=2)
    top = np.arange(2, min(2 + n_frequent, valence.size))
    if top.size < 2:
        raise InvalidParameterError(
            f"valence_agreement needs at least 2 words besides ids 0 and 1; got {valence.size} "
            "ids in all."
        )
    polar = top[np.argsort(-np.abs(weights[top]), kind="stable")[:n_polar]]
    return ValenceAgreement(
        frequent=top,
        polar=polar,
        r_frequent=float(np.corrcoef(valence[top], weights[top])[0, 1]),
        r_polar=float(np.corrcoef(valence[polar], weights[polar])[0, 1]),
    )


def modifier_ranking(
    slopes: np.ndarray, words: Sequence[str], *, n: int = 15
) -> list[tuple[str, float]]:
    """The ``n`` words whose factor (:func:`rank_modifiers`) is furthest from 1, with it.

    Ties keep the order of ``words``.
    """
    slopes = np.asarray(slopes, dtype=np.float64)
    if slopes.shape != (len(words),):
        raise ShapeError(f"slopes must have shape ({len(words)},); got {slopes.shape}.")
    n = check_int(n, "n", "modifier_ranking", min_value=1)
    order = np.argsort(-np.abs(slopes - 1), kind="stable")[:n]
    return [(words[i], float(slopes[i])) for i in order]
