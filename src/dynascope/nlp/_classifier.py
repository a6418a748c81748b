"""Text classifiers: embedding → RNN → linear readout of the final state.

Training (:mod:`._fit`) runs ``torch.nn``'s fused recurrent kernels for speed;
:meth:`TextClassifier.rnn_model` converts the trained layer to the equivalent dynascope model
(same equations, copied weights) so that every analysis (fixed points, linearisation, PCA)
applies to it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._validation import check_bool, check_float, check_int, check_option
from ..exceptions import InvalidParameterError, ShapeError
from ..models import GRU, LSTM, RNNModel, VanillaRNN, wrap

__all__ = [
    "ClassifierConfig",
    "TextClassifier",
    "classifier_accuracy",
    "evidence_coordinate",
    "predict_logits",
]

CELLS = ("gru", "lstm", "vanilla")


class TextClassifier(nn.Module):
    r"""Embedding, a single-layer RNN (``torch.nn`` GRU, LSTM or tanh RNN), linear readout.

    The logits of a document are the readout of the RNN's state after its last real token:
    :math:`z = W_{out} h_{L} + b_{out}`. For two classes there is one logit (positive =
    class 1); for :math:`C > 2` classes there are :math:`C`.

    Parameters
    ----------
    n_words : int
        Vocabulary size (id 0 is padding; its embedding is the zero vector).
    n_classes : int
        At least 2.
    cell : {"gru", "lstm", "vanilla"}
    embed_dim, hidden : int
        Embedding and hidden sizes.
    embed_init : float
        Standard deviation of the initial embeddings. Small values (the default 0.01, instead
        of torch's 1.0) give a low-dimensional, analysable network: with N(0, 1) embeddings it
        reaches the same accuracy but its states spread over tens of dimensions and its line
        attractor leaks.
    word_dropout : float
        Training only: probability of replacing a whole token's embedding by the zero vector
        (the padding input, i.e. the "zero input" at which fixed points are analysed); the
        kept tokens are scaled by ``1 / (1 - p)``. Default 0 (off).
    embed_dropout : float
        Training only: ordinary (element-wise) dropout on the embeddings. Default 0 (off).
    state_dropout : float
        Training only: dropout on the final state before the readout. Default 0 (off).
    memory_bias : float
        Added to the initial bias of the gate that keeps the state: the GRU's update gate
        ``z`` (:math:`h' = (1 - z) n + z h`) or the LSTM's forget gate. A positive value
        starts the network as a slower leak (with 2, ``z`` ≈ 0.88 at zero input), so evidence
        read early in a long review is not forgotten before its end (Tallec & Ollivier 2018,
        "chrono" initialisation). Default 0 (torch's initialisation); a vanilla RNN has no
        gate and must keep 0.
    evidence : array of float, shape (n_words,), optional
        Initial value of every word's first embedding coordinate (the others stay
        N(0, ``embed_init``²)); e.g. :func:`evidence_coordinate` of a bag of words fitted on
        the training documents, so that the network starts from the sign and strength of each
        word's evidence and has only to learn to add it up (and to modify it). Computed from
        the training split only, it uses no outside data (the embeddings stay
        pretrained-free). The padding id 0 keeps the zero vector. Default None (off).
    seed : int, optional
        Seed of the initial weights.
    """

    def __init__(
        self,
        n_words: int,
        n_classes: int = 2,
        *,
        cell: str = "gru",
        embed_dim: int = 64,
        hidden: int = 128,
        embed_init: float = 0.01,
        word_dropout: float = 0.0,
        embed_dropout: float = 0.0,
        state_dropout: float = 0.0,
        memory_bias: float = 0.0,
        evidence: np.ndarray | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        owner = "TextClassifier"
        self.n_words = check_int(n_words, "n_words", owner, min_value=3)
        self.n_classes = check_int(n_classes, "n_classes", owner, min_value=2)
        self.cell = check_option(cell, "cell", owner, CELLS)
        self.embed_dim = check_int(embed_dim, "embed_dim", owner, min_value=1)
        self.hidden = check_int(hidden, "hidden", owner, min_value=1)
        embed_init = check_float(embed_init, "embed_init", owner, min_value=0.0)
        for name, p in (
            ("word_dropout", word_dropout),
            ("embed_dropout", embed_dropout),
            ("state_dropout", state_dropout),
        ):
            check_float(p, name, owner, min_value=0.0, max_value=1.0, max_inclusive=False)
        self.word_dropout = float(word_dropout)
        self.embed_dropout = float(embed_dropout)
        self.state_dropout = float(state_dropout)
        memory_bias = check_float(memory_bias, "memory_bias", owner)
        if memory_bias != 0.0 and self.cell == "vanilla":
            raise InvalidParameterError(
                "The 'memory_bias' parameter of TextClassifier needs a gated cell ('gru' or "
                f"'lstm'); a vanilla RNN has no gate. Got {memory_bias!r} with cell='vanilla'."
            )
        if evidence is not None:
            evidence = np.asarray(evidence, dtype=np.float64)
            if evidence.shape != (self.n_words,) or not np.all(np.isfinite(evidence)):
                raise InvalidParameterError(
                    f"The 'evidence' parameter of TextClassifier must be {self.n_words} finite "
                    f"numbers (one per word); got an array of shape {evidence.shape}."
                )
        gen = torch.Generator()
        if seed is None:
            gen.seed()
        else:
            gen.manual_seed(check_int(seed, "seed", owner, min_value=0))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(torch.randint(0, 2**62, (1,), generator=gen)))
            self.embedding = nn.Embedding(self.n_words, self.embed_dim, padding_idx=0)
            rnn_cls = {"gru": nn.GRU, "lstm": nn.LSTM, "vanilla": nn.RNN}[self.cell]
            self.rnn = rnn_cls(self.embed_dim, self.hidden, batch_first=True)
            self.out = nn.Linear(self.hidden, 1 if self.n_classes == 2 else self.n_classes)
        with torch.no_grad():
            self.embedding.weight.normal_(0.0, embed_init, generator=gen)
            if evidence is not None:
                self.embedding.weight[:, 0] = torch.as_tensor(evidence, dtype=torch.float32)
            self.embedding.weight[0].zero_()
            if memory_bias:
                # torch's gate order: GRU (reset, update, new), LSTM (input, forget, cell,
                # output); the second block is the gate that keeps the state in both
                h = self.hidden
                self.rnn.bias_hh_l0[h : 2 * h] += memory_bias

    @property
    def n_logits(self) -> int:
        """Readout size: 1 for two classes, else ``n_classes``."""
        return self.out.out_features

    def _embed(self, ids: torch.Tensor) -> torch.Tensor:
        """Embeddings of ``ids``; in training mode with the word and element-wise dropouts."""
        e = self.embedding(ids)
        if self.training and self.word_dropout > 0:
            keep = torch.rand(ids.shape, device=e.device) >= self.word_dropout
            e = e * (keep.to(e.dtype) / (1.0 - self.word_dropout)).unsqueeze(-1)
        if self.embed_dropout > 0:
            e = F.dropout(e, self.embed_dropout, training=self.training)
        return e

    def states(self, ids: torch.Tensor) -> torch.Tensor:
        """Hidden states after every token, ``(B, T, hidden)`` (for an LSTM: ``h`` only).

        In training mode the dropouts (if any) apply; call ``eval()`` for the deterministic
        network that :meth:`rnn_model` converts.
        """
        out, _ = self.rnn(self._embed(ids))
        return out

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, n_logits)`` from the state at each document's own last token.

        ``ids`` is ``(B, T)`` right-padded; the padded steps after a document's end are computed
        (unpacked sequences run much faster on CPU than packed ones) but never read.
        """
        if ids.ndim != 2 or lengths.shape != (ids.shape[0],):
            raise ShapeError(
                f"ids must have shape (batch, time) and lengths (batch,); got {tuple(ids.shape)} "
                f"and {tuple(lengths.shape)}."
            )
        return self._logits(ids, lengths, steps=False)[0]

    def _logits(
        self, ids: torch.Tensor, lengths: torch.Tensor, *, steps: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The final logits and, with ``steps``, the readout of every step's state
        ``(B, T, n_logits)`` (from the same pass, so with the same dropout masks)."""
        out = self.states(ids)
        last = out[torch.arange(ids.shape[0]), lengths.long() - 1]
        if self.state_dropout > 0:
            last = F.dropout(last, self.state_dropout, training=self.training)
        return self.out(last), (self.out(out) if steps else None)

    def rnn_model(self) -> RNNModel:
        """The trained RNN and readout as a native dynascope model (a copy of the weights).

        Inputs of the returned model are word embeddings: feed it ``embed(ids)``. Its LSTM state
        is ``concat(h, c)``.
        """
        if self.cell == "gru":
            return GRU.from_torch(self.rnn, self.out)
        if self.cell == "lstm":
            return LSTM.from_torch(self.rnn, self.out)
        model = wrap(self.rnn, self.out).to_native()
        assert isinstance(model, VanillaRNN)  # to_native of an nn.RNN; internal invariant
        return model

    def embeddings(self) -> np.ndarray:
        """The embedding matrix, ``(n_words, embed_dim)`` (a float64 copy)."""
        return self.embedding.weight.detach().double().cpu().numpy().copy()


@dataclass(frozen=True)
class ClassifierConfig:
    """Training options of :func:`train_classifier`.

    Parameters
    ----------
    epochs : int
        Passes over the training documents (the last may be cut short by ``time_limit``).
    batch_size : int
        Documents per step. Batches hold documents of similar length (bucketing), which
        wastes little compute on padding.
    lr : float
        Adam learning rate (decayed by a cosine to ``lr / 20`` over the planned steps).
    weight_decay : float
        Decoupled (AdamW) weight decay on every parameter (but see ``recurrent_decay``); with
        ``embed_init`` small it keeps the dynamics low-dimensional.
    recurrent_decay : float, optional
        A separate AdamW weight decay for the recurrent layer's hidden-to-hidden matrix
        (``weight_hh``, the weights that make the dynamics; its biases and input weights keep
        ``weight_decay``). Default None: ``weight_decay`` for every parameter.
    average_last : float
        Fraction of the planned steps, at the end of training, over which the weights are
        averaged (with ``time_limit``, also every step once less than that fraction of the CPU
        time is left): after each of those steps the running mean of every parameter is updated,
        and at the end the model's weights are replaced by that mean (tail averaging, as in
        stochastic weight averaging; the network stays one network, which the analyses then
        see). 0 (default): off, the weights of the last step. The running mean is kept in the
        checkpoints, so a resumed training ends the same.
    target_replication : float
        Weight ``a`` in [0, 1) of a loss on every step's readout (target replication, Lipton et
        al. 2015): the training loss is ``(1 - a)`` times that of the final state's logits plus
        ``a`` times the mean over each document's steps of the loss of the readout of the state
        after step ``t`` (the document's label as every step's target), weighted by ``t /
        length`` (towards the end, where more of the document has been read). The readout of a
        state part-way through a review then already predicts its label, which asks the network
        to keep its running evidence readable along the way (what a line attractor aligned with
        the readout does) and sends gradients to early words directly. Training only: the
        network and its predictions are still the final state's readout. 0 (default): off.
    distill : float
        Weight ``b`` in [0, 1) of a second target, a teacher's probability of class 1 for each
        training document (the ``teacher`` argument of :func:`train_classifier`, e.g.
        :func:`ngram_teacher`'s out-of-fold probabilities; knowledge distillation, Hinton et
        al. 2015): the training loss is ``(1 - b)`` times the loss against the labels (with
        ``target_replication``, that mixture) plus ``b`` times the cross-entropy of the final
        logit against the teacher's probability. Two classes only. 0 (default): off.
    clip : float
        Gradient-norm clip.
    time_limit : float, optional
        Stop after this many CPU seconds of training (the process's ``time.process_time``,
        checked after each step; CPU time rather than wall time, so that other jobs on the
        machine do not cut the training short). The cosine schedule follows the steps, or
        this limit where it runs ahead of them once half of it is used; so a training that
        the limit does not cut is reproducible bitwise (the CPU time of a step varies with
        the machine's load), and one it cuts still ends at the schedule's low rate.
    threads : int, optional
        ``torch.set_num_threads`` during training (restored afterwards).
    seed : int
        Seed of the batch order and of the dropout masks (the global torch generator is
        restored afterwards).
    verbose : bool
        Log each epoch's loss and accuracy at INFO level.
    checkpoint_every : int
        With a ``checkpoint`` path given to :func:`train_classifier`, write a checkpoint every
        this many steps (and at the end); 0: only at the end.
    progress : bool, optional
        A progress bar over the steps on stderr (default: only when stderr is a terminal).
    """

    epochs: int = 3
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 1e-2
    clip: float = 1.0
    recurrent_decay: float | None = None
    average_last: float = 0.0
    target_replication: float = 0.0
    distill: float = 0.0
    time_limit: float | None = None
    threads: int | None = None
    seed: int = 0
    verbose: bool = False
    checkpoint_every: int = 0
    progress: bool | None = None

    def __post_init__(self) -> None:
        owner = "ClassifierConfig"
        check_int(self.epochs, "epochs", owner, min_value=1)
        check_int(self.batch_size, "batch_size", owner, min_value=1)
        check_float(self.lr, "lr", owner, min_value=0.0, min_inclusive=False)
        check_float(self.weight_decay, "weight_decay", owner, min_value=0.0)
        check_float(self.clip, "clip", owner, min_value=0.0, min_inclusive=False)
        if self.recurrent_decay is not None:
            check_float(self.recurrent_decay, "recurrent_decay", owner, min_value=0.0)
        check_float(self.average_last, "average_last", owner, min_value=0.0, max_value=1.0)
        check_float(
            self.target_replication,
            "target_replication",
            owner,
            min_value=0.0,
            max_value=1.0,
            max_inclusive=False,
        )
        check_float(
            self.distill, "distill", owner, min_value=0.0, max_value=1.0, max_inclusive=False
        )
        if self.time_limit is not None:
            check_float(self.time_limit, "time_limit", owner, min_value=0.0, min_inclusive=False)
        if self.threads is not None:
            check_int(self.threads, "threads", owner, min_value=1)
        check_int(self.seed, "seed", owner, min_value=0)
        check_bool(self.verbose, "verbose", owner)
        check_int(self.checkpoint_every, "checkpoint_every", owner, min_value=0)
        if self.progress is not None:
            check_bool(self.progress, "progress", owner)

    def resume_key(self) -> dict[str, object]:
        """The options a resumed training must share with the checkpoint (all that change
        the result; not ``verbose``, ``progress``, ``threads``). Options added later are left
        out at their defaults, so that older checkpoints still resume."""
        later = {
            "recurrent_decay": None,
            "average_last": 0.0,
            "target_replication": 0.0,
            "distill": 0.0,
        }
        return {
            k: v
            for k, v in dataclasses.asdict(self).items()
            if k not in ("verbose", "progress", "threads") and not (k in later and v == later[k])
        }


def _predict(logits: torch.Tensor) -> torch.Tensor:
    if logits.shape[1] == 1:
        return (logits[:, 0] > 0).long()
    return logits.argmax(dim=1)


def _check_data(ids: np.ndarray, lengths: np.ndarray, labels: np.ndarray | None) -> None:
    if ids.ndim != 2 or lengths.shape != (ids.shape[0],):
        raise ShapeError(
            f"ids must have shape (n_docs, time) and lengths (n_docs,); got {ids.shape} and "
            f"{lengths.shape}."
        )
    if labels is not None and labels.shape != (ids.shape[0],):
        raise ShapeError(f"labels must have shape (n_docs={ids.shape[0]},); got {labels.shape}.")
    if lengths.size and (lengths.min() < 1 or lengths.max() > ids.shape[1]):
        raise InvalidParameterError(
            f"lengths must lie in [1, {ids.shape[1]}] (the padded width of ids); got "
            f"[{lengths.min()}, {lengths.max()}]."
        )


@torch.no_grad()
def predict_logits(
    model: TextClassifier, ids: np.ndarray, lengths: np.ndarray, *, batch_size: int = 256
) -> np.ndarray:
    """Logits ``(n_docs, n_logits)`` of padded documents (in eval mode, no gradients)."""
    ids, lengths = np.asarray(ids), np.asarray(lengths)
    _check_data(ids, lengths, None)
    was = model.training
    model.eval()
    out = np.zeros((ids.shape[0], model.n_logits))
    order = np.argsort(lengths, kind="stable")
    for i in range(0, order.size, batch_size):
        b = order[i : i + batch_size]
        width = int(lengths[b].max())
        out[b] = (
            model(torch.as_tensor(ids[b, :width]), torch.as_tensor(lengths[b])).double().numpy()
        )
    model.train(was)
    return out


def classifier_accuracy(
    model: TextClassifier, ids: np.ndarray, lengths: np.ndarray, labels: np.ndarray
) -> float:
    """Fraction of documents classified correctly."""
    logits = torch.as_tensor(predict_logits(model, ids, lengths))
    return float((_predict(logits).numpy() == np.asarray(labels)).mean())


def evidence_coordinate(weights: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """Word weights rescaled for :class:`TextClassifier`'s ``evidence`` coordinate.

    ``weights`` (one per word, e.g. :attr:`FittedBagOfWords.weights` of a bag of words fitted on
    the training documents) are divided by their standard deviation over the real words (ids
    2 and up) and multiplied by ``scale``; ids 0 (padding) and 1 (unknown) get 0.

    Raises
    ------
    InvalidParameterError
        If ``weights`` is not a 1-d finite array of at least three words, or all real words
        have the same weight.
    """
    w = np.asarray(weights, dtype=np.float64)
    scale = check_float(scale, "scale", "evidence_coordinate")
    if w.ndim != 1 or w.size < 3 or not np.all(np.isfinite(w)):
        raise InvalidParameterError(
            "evidence_coordinate needs one finite weight per word (a 1-d array of at least 3); "
            f"got shape {w.shape}."
        )
    sd = float(w[2:].std())
    if sd == 0.0:
        raise InvalidParameterError(
            "evidence_coordinate needs words of different weights; all real words weigh "
            f"{w[2]:g} (fit the bag of words on documents of both classes)."
        )
    out = w * (scale / sd)
    out[:2] = 0.0
    return out
