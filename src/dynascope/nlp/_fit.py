"""Training a :class:`~dynascope.nlp.TextClassifier`: length-bucketed batches, checkpoints, resume.

Each epoch's batches hold documents of similar length (so little of each batch is padding);
training goes through the one training loop (:class:`dynascope.training._loop.TrainingLoop`)
and writes a checkpoint that a later call resumes bitwise.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import math
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..exceptions import InvalidParameterError
from ..training._checkpoint import read_checkpoint, write_checkpoint
from ..training._loop import TrainingLoop, restore_training_state
from ._classifier import ClassifierConfig, TextClassifier, _check_data, _predict

__all__ = ["TrainHistory", "train_classifier"]

logger = logging.getLogger(__name__)


@dataclass
class TrainHistory:
    """What happened in :func:`train_classifier`: per-epoch loss/accuracy (of the weights
    being trained, not their average), the steps done and planned (``steps``,
    ``planned_steps``; fewer done when ``time_limit`` cut the training, ``stopped_early``), the
    wall time (``seconds``), the process's CPU time (``cpu_seconds``, what ``time_limit``
    counts) and the number of steps whose weights were averaged into the final ones
    (``averaged_steps``; 0 without ``average_last``)."""

    loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    steps: int = 0
    seconds: float = 0.0
    stopped_early: bool = False
    cpu_seconds: float = 0.0
    averaged_steps: int = 0
    planned_steps: int = 0


def _buckets(lengths: np.ndarray, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Batches of documents of similar length, in random order."""
    # sort by length with random tie-breaks, cut into batches, shuffle the batches
    order = np.lexsort((rng.random(lengths.size), lengths))
    batches = [order[i : i + batch_size] for i in range(0, order.size, batch_size)]
    rng.shuffle(batches)  # type: ignore[arg-type]  # stubs want an array; lists shuffle too
    return batches


def _loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    if logits.shape[1] == 1:
        return F.binary_cross_entropy_with_logits(logits[:, 0], y.to(logits.dtype))
    return F.cross_entropy(logits, y)


def _step_loss(steps: torch.Tensor, lengths: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Target replication: the loss of every step's logits ``(B, T, K)`` against the document's
    label, averaged over each document's steps with weights ``t / length`` (t = 1..length; the
    padded steps after its end weigh 0), then over the documents."""
    b, t_max, k = steps.shape
    t = torch.arange(1, t_max + 1, dtype=steps.dtype)
    n = lengths.to(steps.dtype).unsqueeze(1)
    w = torch.where(t <= n, t / n, torch.zeros((), dtype=steps.dtype))  # (B, T)
    w = w / w.sum(dim=1, keepdim=True)  # sum over a document's steps: (length + 1) / 2
    if k == 1:
        target = y.to(steps.dtype).unsqueeze(1).expand(b, t_max)
        each = F.binary_cross_entropy_with_logits(steps[..., 0], target, reduction="none")
    else:
        each = F.cross_entropy(
            steps.reshape(b * t_max, k), y.repeat_interleave(t_max), reduction="none"
        ).reshape(b, t_max)
    return (w * each).sum(dim=1).mean()


def train_classifier(
    model: TextClassifier,
    ids: np.ndarray,
    lengths: np.ndarray,
    labels: np.ndarray,
    config: ClassifierConfig = ClassifierConfig(),  # noqa: B008 (frozen options)
    *,
    checkpoint: str | os.PathLike[str] | None = None,
    resume: bool = False,
    teacher: np.ndarray | None = None,
) -> TrainHistory:
    """Train ``model`` in place on padded token ids (see :func:`encode`).

    Parameters
    ----------
    model : TextClassifier
    ids : ndarray of int, shape (n_docs, max_len)
    lengths : ndarray of int, shape (n_docs,)
    labels : ndarray of int, shape (n_docs,)
    config : ClassifierConfig
    checkpoint : path, optional
        A checkpoint file (safetensors, written atomically; see
        :mod:`dynascope.training._checkpoint`) written every ``config.checkpoint_every`` steps
        and at the end.
    teacher : ndarray of float, shape (n_docs,), optional
        A teacher's probability of class 1 for each document, the second target of
        ``config.distill`` (needed exactly when ``distill`` > 0; see :func:`ngram_teacher`).
    resume : bool
        Continue from ``checkpoint`` when it exists. The resumed training ends bitwise
        identical to an uninterrupted one (same weights, same history), provided the
        ``time_limit`` did not cut it short (the cosine schedule then follows the CPU clock).

    Returns
    -------
    TrainHistory

    Raises
    ------
    InvalidParameterError
        If ``resume`` finds a checkpoint of a different model, training config or teacher; if
        ``teacher`` is given without ``config.distill`` (or missing with it), is not one
        probability in [0, 1] per document, or the model has more than two classes.
    """
    ids = np.asarray(ids)
    lengths = np.asarray(lengths)
    labels = np.asarray(labels)
    _check_data(ids, lengths, labels)
    if labels.size and (labels.min() < 0 or labels.max() >= model.n_classes):
        raise InvalidParameterError(
            f"labels must lie in [0, {model.n_classes - 1}] for a {model.n_classes}-class model; "
            f"got [{labels.min()}, {labels.max()}]."
        )
    if (teacher is None) != (config.distill == 0.0):
        raise InvalidParameterError(
            "train_classifier needs a teacher exactly when config.distill > 0; got "
            f"distill={config.distill} and teacher={'None' if teacher is None else 'an array'} "
            "(pass teacher=ngram_teacher(...) with distill, or neither)."
        )
    if teacher is not None:
        teacher = np.asarray(teacher, dtype=np.float64)
        if model.n_classes != 2:
            raise InvalidParameterError(
                f"distill needs a two-class model (a teacher's P(class 1)); this one has "
                f"{model.n_classes} classes."
            )
        if teacher.shape != labels.shape or not np.all((teacher >= 0) & (teacher <= 1)):
            bad = teacher[~((teacher >= 0) & (teacher <= 1))]
            raise InvalidParameterError(
                f"teacher must hold one probability in [0, 1] per document, shape "
                f"{labels.shape}; got shape {teacher.shape}"
                + (f" with values such as {bad[0]}." if bad.size else ".")
            )
    run = _ClassifierRun(model, ids, lengths, labels, config, checkpoint, teacher)
    if resume and run.path is not None and run.path.exists():
        run.resume()
    threads = torch.get_num_threads()
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    rng_state = torch.random.get_rng_state()
    model.train()
    # dropout masks come from torch's generator: seed a private copy of it (config.seed)
    torch.random.set_rng_state(run.torch_state)
    try:
        run.loop.run(
            run.batches(),
            run.loss_of,
            run.after_step,
            total=run.total,
            progress=False if run.finished else config.progress,
            unit="step",
            desc="training",
        )
    finally:
        model.eval()
        torch.set_num_threads(threads)
        torch.random.set_rng_state(rng_state)
    run.history.planned_steps = run.total
    run.history.seconds = time.perf_counter() - run.start
    run.history.cpu_seconds = time.process_time() - run.cpu_start
    return run.history


# (epoch, index of the batch in the epoch, batches in the epoch, the batch's document indices)
_Batch = tuple[int, int, int, np.ndarray]


class _ClassifierRun:
    """:func:`train_classifier` as a configuration of the shared training loop: length-bucketed
    epochs, AdamW with a cosine schedule, clipping, per-epoch history, checkpoints, resume."""

    def __init__(
        self,
        model: TextClassifier,
        ids: np.ndarray,
        lengths: np.ndarray,
        labels: np.ndarray,
        config: ClassifierConfig,
        checkpoint: str | os.PathLike[str] | None,
        teacher: np.ndarray | None = None,
    ) -> None:
        self.model, self.ids, self.lengths, self.labels = model, ids, lengths, labels
        self.teacher = None if teacher is None else torch.as_tensor(teacher, dtype=torch.float32)
        self.config = config
        self.rng = np.random.default_rng(config.seed)
        self.total = max(math.ceil(ids.shape[0] / config.batch_size) * config.epochs, 1)
        params: list[Any] = list(model.parameters())
        if config.recurrent_decay is not None:
            # two groups: the hidden-to-hidden matrix with its own decay, the rest
            rec = model.rnn.weight_hh_l0
            params = [
                {"params": [p for p in model.parameters() if p is not rec]},
                {"params": [rec], "weight_decay": config.recurrent_decay},
            ]
        opt = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
        self.start = time.perf_counter()
        # the time limit counts CPU seconds of this process, not wall seconds, so that a
        # loaded machine does not cut the training (and change its result)
        self.cpu_start = time.process_time()
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * self._progress(s)))
        )
        self.loop = TrainingLoop(
            list(model.parameters()), opt, scheduler=sched, grad_clip=config.clip
        )
        self.history = TrainHistory()
        self.key = {
            "config": config.resume_key(),
            "n_docs": int(ids.shape[0]),
            "cell": model.cell,
            "hidden": model.hidden,
            "n_words": model.n_words,
        }
        if teacher is not None:  # the soft targets change the result: a checksum of them
            self.key["teacher"] = hashlib.sha256(
                np.ascontiguousarray(teacher, dtype=np.float64).tobytes()
            ).hexdigest()
        self.first_epoch, self.first_batch = 0, 0
        self.running = (0.0, 0, 0)
        self.epoch_rng_state = self.rng.bit_generator.state
        self.finished = False
        self.path = None if checkpoint is None else Path(checkpoint)
        self.torch_state = torch.Generator().manual_seed(config.seed).get_state()
        self._logits = self._y = torch.empty(0)
        # tail averaging (config.average_last): the running mean of the weights, its count
        self.average: dict[str, torch.Tensor] | None = None
        self.n_average_steps = (
            max(round(config.average_last * self.total), 1) if config.average_last > 0 else 0
        )

    def _clock_share(self) -> float:
        """The share of ``time_limit`` used, once it is at least half (0 before, and without
        a limit): the only way the CPU clock enters the schedule and the averaged tail.

        The clock counts only in the second half of the budget: the first steps' CPU time
        varies with the machine's load (it ran ahead of the steps for the first ~8 steps of an
        IMDB run), and a run the limit does not cut must not depend on it, or the same seed
        trains differently from run to run.
        """
        if self.config.time_limit is None:
            return 0.0
        used = (time.process_time() - self.cpu_start) / self.config.time_limit
        return used if used >= 0.5 else 0.0

    def _progress(self, s: int) -> float:
        # the steps or, where it runs ahead of them in the second half of the limit, the CPU
        return min(max(s / self.total, self._clock_share()), 1.0)

    def resume(self) -> None:
        assert self.path is not None  # checked by the caller
        ckpt = read_checkpoint(self.path)
        t = ckpt.trainer_state
        if t.get("key") != _json_roundtrip(self.key):
            raise InvalidParameterError(
                f"Cannot resume from {self.path}: it was written for {t.get('key')}, not "
                f"{self.key}."
            )
        assert ckpt.scheduler_state is not None  # always written by save()
        restore_training_state(
            ckpt, self.path, self.model, self.loop.optimizer, self.loop.scheduler
        )
        self.epoch_rng_state = ckpt.numpy_rng_state
        self.torch_state = ckpt.torch_rng_state
        self.first_epoch, self.first_batch = int(t["epoch"]), int(t["batch"])
        self.running = (float(t["loss_sum"]), int(t["correct"]), int(t["seen"]))
        self.history = TrainHistory(
            loss=list(t["loss"]),
            train_accuracy=list(t["train_accuracy"]),
            steps=int(t["steps"]),
            stopped_early=bool(t["stopped_early"]),
        )
        self.loop.step = self.history.steps
        self.start -= float(t["seconds"])
        self.cpu_start -= float(t.get("cpu_seconds", t["seconds"]))
        self.finished = bool(t["finished"])
        self.history.averaged_steps = int(t.get("averaged_steps", 0))
        if self.history.averaged_steps:
            assert ckpt.best_state is not None  # written with every averaged step count
            self.average = {k: v.clone() for k, v in ckpt.best_state.items()}

    def save(self, epoch: int, batch: int, done: bool) -> None:
        if self.path is None:
            return
        np_gen = np.random.default_rng()
        np_gen.bit_generator.state = self.epoch_rng_state
        torch_gen = torch.Generator()
        torch_gen.set_state(torch.random.get_rng_state())
        loss_sum, correct, seen = self.running
        h = self.history
        trainer_state = {
            "key": self.key,
            "epoch": epoch,
            "batch": batch,
            "loss_sum": loss_sum,
            "correct": correct,
            "seen": seen,
            "loss": h.loss,
            "train_accuracy": h.train_accuracy,
            "steps": h.steps,
            "stopped_early": h.stopped_early,
            "seconds": time.perf_counter() - self.start,
            "cpu_seconds": time.process_time() - self.cpu_start,
            "finished": done,
            "averaged_steps": h.averaged_steps,
        }
        write_checkpoint(
            self.path,
            step=h.steps,
            model=self.model,
            optimizer=self.loop.optimizer,
            scheduler=self.loop.scheduler,
            numpy_rng=np_gen,
            torch_rng=torch_gen,
            trainer_state=trainer_state,
            config=dataclasses.asdict(self.config),
            # the checkpoint's slot for a second set of weights holds the running average
            best_state=self.average,
        )

    def batches(self) -> Iterator[_Batch]:
        """The remaining batches, epoch by epoch; closes each epoch that runs to its end."""
        for epoch in range(self.first_epoch, self.config.epochs):
            if self.finished:
                return
            # the batch order of an epoch is drawn from the generator's state at its start,
            # which the checkpoints keep, so that a resumed epoch sees the same batches
            self.rng.bit_generator.state = self.epoch_rng_state
            batches = _buckets(self.lengths, self.config.batch_size, self.rng)
            skip = self.first_batch if epoch == self.first_epoch else 0
            if epoch != self.first_epoch:
                self.running = (0.0, 0, 0)
            for b_index in range(skip, len(batches)):
                yield epoch, b_index, len(batches), batches[b_index]
            self.end_epoch(epoch)

    def loss_of(self, item: _Batch) -> torch.Tensor:
        batch = item[3]
        width = int(self.lengths[batch].max())
        x = torch.as_tensor(self.ids[batch, :width])
        n = torch.as_tensor(self.lengths[batch])
        self._y = torch.as_tensor(self.labels[batch])
        a, b = self.config.target_replication, self.config.distill
        if a == 0.0:
            self._logits = self.model(x, n)
            loss = _loss(self._logits, self._y)
        else:
            self._logits, steps = self.model._logits(x, n, steps=True)
            assert steps is not None  # asked for
            loss = (1.0 - a) * _loss(self._logits, self._y) + a * _step_loss(steps, n, self._y)
        if b == 0.0:
            return loss
        assert self.teacher is not None  # train_classifier checks it
        soft = F.binary_cross_entropy_with_logits(
            self._logits[:, 0], self.teacher[torch.as_tensor(batch)]
        )
        return (1.0 - b) * loss + b * soft

    def after_step(self, item: _Batch, loss_value: float) -> bool:
        """Padding embedding, running loss/accuracy, time limit, checkpoint; True to stop."""
        epoch, b_index, n_batches, batch = item
        config = self.config
        with torch.no_grad():
            self.model.embedding.weight[0].zero_()  # weight decay must not move padding
        self.history.steps = self.loop.step
        if self.n_average_steps and self._in_tail(self.loop.step):
            self.update_average()
        loss_sum, correct, seen = self.running
        loss_sum += loss_value * len(batch)
        correct += int((_predict(self._logits.detach()) == self._y).sum())
        self.running = (loss_sum, correct, seen + len(batch))
        if (
            config.time_limit is not None
            and time.process_time() - self.cpu_start > config.time_limit
        ):
            self.history.stopped_early = True
            self.end_epoch(epoch)
            return True
        if (
            config.checkpoint_every
            and self.history.steps % config.checkpoint_every == 0
            and b_index + 1 < n_batches
        ):
            self.save(epoch, b_index + 1, False)
        return False

    def _in_tail(self, s: int) -> bool:
        """Whether step ``s`` (1-based) lies in the averaged tail of the training: the last
        ``n_average_steps`` planned steps or, with a time limit, the same fraction of it (in
        the half of the limit where the schedule follows the CPU clock, see ``_progress``)."""
        if s > self.total - self.n_average_steps:
            return True
        return self._clock_share() > 1.0 - self.config.average_last

    @torch.no_grad()
    def update_average(self) -> None:
        """Add the current weights to the running mean (the first step copies them)."""
        n = self.history.averaged_steps + 1
        current = self.model.state_dict()
        if self.average is None:
            self.average = {k: v.detach().clone() for k, v in current.items()}
        else:
            for k, v in current.items():
                # mean_n = mean_{n-1} + (w - mean_{n-1}) / n: exact for constant weights
                self.average[k].add_(v - self.average[k], alpha=1.0 / n)
        self.history.averaged_steps = n

    @torch.no_grad()
    def apply_average(self) -> None:
        """Replace the model's weights by their running mean (at the end of training)."""
        if self.average is not None:
            self.model.load_state_dict(self.average)

    def end_epoch(self, epoch: int) -> None:
        """The epoch's mean loss and accuracy into the history; a checkpoint."""
        history, config = self.history, self.config
        loss_sum, correct, seen = self.running
        history.loss.append(loss_sum / max(seen, 1))
        history.train_accuracy.append(correct / max(seen, 1))
        self.epoch_rng_state = self.rng.bit_generator.state
        self.running = (0.0, 0, 0)
        if config.verbose:
            logger.info(
                "epoch %d: loss %.4f, train accuracy %.4f, %.0f s",
                epoch + 1,
                history.loss[-1],
                history.train_accuracy[-1],
                time.perf_counter() - self.start,
            )
        done = history.stopped_early or epoch + 1 == config.epochs
        if done:
            self.apply_average()
        if config.checkpoint_every or done:
            self.save(epoch + 1, 0, done)


def _json_roundtrip(value: object) -> object:
    """``value`` as it reads back from JSON (tuples become lists)."""
    import json

    return json.loads(json.dumps(value))
