"""LINT reproduced: low-rank networks fitted to a task-trained network's rates (Valente 2022).

Teacher: a full-rank :class:`~dynascope.models.RateRNN` (N = 256, τ = 100 ms, dt = 20 ms,
recurrent noise 0.05) trained by :func:`dynascope.training.train` on context-dependent
integration (``ContextDependentIntegration.preset("lowrank")``, the task of the ``context``
experiment) to ≥ 98 % held-out accuracy. Recordings: its rates ``tanh(x)`` on task trials, noise
on (as LINT's targets), a random subsample of the units, 60/20/20 % train/validation/test
trials, with the task inputs.

Fits (:func:`dynascope.recordings.fit_constrained`): the closed-form full-rank network, LINT
fits of rank 1..4 (``rank="auto"``: the rank where validation R² saturates), at two
subsampling levels. For each: R² (LINT's definition) on test trials, the task accuracy of the
fitted network (a ridge readout of the teacher's output from the recorded units' rates, fitted
on training trials, then the fitted network run on 500 new noise-free trials from the teacher's
first frame), and the context gating of its reduced system (rank ≥ 1:
:func:`~dynascope.lowrank.network_couplings` along its trajectories in the stimulus period,
:func:`~dynascope.lowrank.context_gating`: per context, |effective coupling of κ₁ to the
relevant input| over |coupling to the irrelevant one|).

Prints one JSON line per fit. ``nice -n 10``; a few minutes on a loaded 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from dynascope.lowrank import context_gating, network_couplings
from dynascope.models import LowRankRNN, RateRNN
from dynascope.recordings import ConstrainedFit, Recordings, fit_constrained
from dynascope.tasks import ContextDependentIntegration, TaskBatch
from dynascope.training import TrainConfig, train


def teacher(n: int, steps: int, seed: int) -> tuple[RateRNN, float]:
    task = ContextDependentIntegration.preset("lowrank")
    net = RateRNN(4, n, 1, tau=100.0, dt=20.0, noise_std=0.05, seed=seed)
    res = train(net, task, TrainConfig(n_steps=steps, batch_size=32, lr=1e-3, grad_clip=1.0,
                                       eval_every=50, seed=seed, progress=False))  # fmt: skip
    return net.double(), float(res.final_performance)


def run_teacher(net: RateRNN, batch: TaskBatch, noise: bool, seed: int) -> np.ndarray:
    net.train(noise)
    with torch.no_grad():
        x, _ = net(torch.as_tensor(batch.inputs, dtype=torch.float64),
                   generator=torch.Generator().manual_seed(seed))  # fmt: skip
    net.eval()
    return x.numpy()


def readout_weights(net: RateRNN, x: np.ndarray, units: np.ndarray) -> np.ndarray:
    """Ridge readout ``[w; b]`` of the teacher's output from the rates of ``units``."""
    r = np.tanh(x[:, :, units]).reshape(-1, units.size)
    with torch.no_grad():
        z = net.readout(torch.as_tensor(x)).numpy().reshape(-1, 1)
    design = np.concatenate([r, np.ones((r.shape[0], 1))], 1)
    gram = design.T @ design
    gram[np.diag_indices_from(gram)] += 1e-3 * np.trace(gram) / gram.shape[0]
    return np.linalg.solve(gram, design.T @ z)


def integrating_first(model: LowRankRNN, w: np.ndarray) -> LowRankRNN:
    """The same network with its latents reordered: the one the readout ``w`` reads most first
    (:func:`~dynascope.lowrank.context_gating` reports the first latent)."""
    m, n = model.m.detach(), model.n.detach()
    order = np.argsort(-np.abs(w[:-1, 0] @ m.numpy()))
    out = LowRankRNN(model.n_in, model.n_hidden, 0, rank=model.rank, tau=model.tau,
                     dt=model.dt, bias=True, seed=0).double()  # fmt: skip
    out.load_state_dict(model.state_dict())
    with torch.no_grad():
        out.m.copy_(m[:, order])
        out.n.copy_(n[:, order])
    return out.eval()


def evaluate(model: RateRNN | LowRankRNN, units: np.ndarray, w: np.ndarray, probe: TaskBatch,
             x_probe: np.ndarray) -> tuple[float, list[float], list[float] | None]:  # fmt: skip
    """Task accuracy through the readout ``w``, the behavioural selectivity per context
    (:func:`selectivity`) and the gating ratios of a low-rank model's most-read latent."""
    probe_rec = Recordings(np.tanh(x_probe[:, :, units]), inputs=probe.inputs)
    fit = ConstrainedFit(model, np.arange(units.size), None, model.alpha, {})
    states = fit.states(probe_rec)
    out = np.tanh(states) @ w[:-1] + w[-1]
    acc = float(ContextDependentIntegration.preset("lowrank").performance(out, probe))
    behaviour = selectivity(out, probe)
    if not isinstance(model, LowRankRNN):
        return acc, behaviour, None
    g = context_gating(network_couplings(integrating_first(model, w), states),
                       np.asarray(probe.conditions["context"]), probe.period_mask("stimulus"),
                       relevant=(0, 1))  # fmt: skip
    return acc, behaviour, [round(float(v), 2) for v in g.ratio]


def selectivity(out: np.ndarray, probe: TaskBatch) -> list[float]:
    """Per context, |slope of the decision output on the relevant coherence| over |slope on the
    irrelevant one| (least squares on the probe trials): the gating, seen in behaviour."""
    win = probe.period_mask("decision")
    z = (out[..., 0] * win).sum(1) / np.maximum(win.sum(1), 1)
    c = probe.conditions
    ratios = []
    for ctx, (rel, irr) in enumerate((("coherence_a", "coherence_b"),
                                      ("coherence_b", "coherence_a"))):  # fmt: skip
        sel = np.asarray(c["context"]) == ctx
        design = np.stack([c[rel][sel], c[irr][sel], np.ones(sel.sum())], 1)
        beta = np.linalg.lstsq(design, z[sel], rcond=None)[0]
        ratios.append(round(float(abs(beta[0]) / max(abs(beta[1]), 1e-12)), 1))
    return ratios


def r2(pred: np.ndarray, y: np.ndarray) -> float:
    """LINT's R² over every entry (grand mean)."""
    return 1 - float(((pred - y) ** 2).sum() / ((y - y.mean()) ** 2).sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--neurons", type=int, default=256)
    parser.add_argument("--trials", type=int, default=400)
    parser.add_argument("--fractions", type=float, nargs="+", default=[1.0, 0.5, 0.15])
    parser.add_argument("--steps", type=int, default=400, help="Adam steps per rank")
    parser.add_argument("--max-rank", type=int, default=4)
    parser.add_argument("--lr", type=float, default=1e-2, help="initial Adam step size")
    parser.add_argument("--teacher-steps", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)

    t0 = time.perf_counter()
    net, acc = teacher(args.neurons, args.teacher_steps, args.seed)
    print(
        json.dumps(
            {
                "stage": "teacher",
                "accuracy": round(acc, 3),
                "seconds": round(time.perf_counter() - t0, 1),
            }
        ),
        flush=True,
    )
    task = ContextDependentIntegration.preset("lowrank")
    batch = task.sample(args.trials, seed=args.seed + 1)
    x = run_teacher(net, batch, noise=True, seed=args.seed + 2)
    probe = task.sample(500, seed=args.seed + 3)
    x_probe = run_teacher(net, probe, noise=False, seed=0)
    n_tr, n_va = int(0.6 * args.trials), int(0.2 * args.trials)
    split = np.array(["train"] * n_tr + ["valid"] * n_va + ["test"] * (args.trials - n_tr - n_va))
    rng = np.random.default_rng(args.seed)
    test = np.flatnonzero(split == "test")
    # the noise ceiling: the teacher itself, run without noise from the same first frames
    with torch.no_grad():
        u_test = torch.as_tensor(batch.inputs[test][:, 1:], dtype=torch.float64)
        x_clean, _ = net(u_test, torch.as_tensor(x[test, 0]))
    ceiling = r2(np.tanh(x_clean.numpy()), np.tanh(x[test, 1:]))
    with torch.no_grad():
        z_probe = net.readout(torch.as_tensor(x_probe)).numpy()
    print(
        json.dumps(
            {
                "stage": "noise ceiling",
                "r2_test": round(ceiling, 4),
                "teacher_selectivity": selectivity(z_probe, probe),
            }
        ),
        flush=True,
    )
    # how low-rank the teacher is: its recurrent matrix truncated (SVD), run from the same
    # first frames without noise, against the teacher without noise (LINT's "truncated")
    u_svd, s_svd, vh_svd = torch.linalg.svd(net.weight_rec.detach())
    truncated = {}
    for k in range(1, 6):
        trunc = RateRNN(4, args.neurons, 1, tau=100.0, dt=20.0, seed=0).double().eval()
        trunc.load_state_dict(net.state_dict())
        with torch.no_grad():
            trunc.weight_rec.copy_(u_svd[:, :k] * s_svd[:k] @ vh_svd[:k])
            xt, _ = trunc(u_test, torch.as_tensor(x[test, 0]))
        truncated[k] = round(r2(np.tanh(xt.numpy()), np.tanh(x_clean.numpy())), 3)
    print(json.dumps({"stage": "truncated teacher", "r2": truncated}), flush=True)
    for frac in args.fractions:
        units = np.sort(rng.permutation(args.neurons)[: round(frac * args.neurons)])
        rec = Recordings(np.tanh(x[:, :, units]), inputs=batch.inputs, split=split, dt=0.02)
        w = readout_weights(net, x[rec.trials("train")], units)
        for rank in (None, "auto"):
            t0 = time.perf_counter()
            fit = fit_constrained(rec, rank=rank, max_rank=args.max_rank, n_steps=args.steps,
                                  lr=args.lr, seed=args.seed)  # fmt: skip
            seconds = time.perf_counter() - t0
            line = {"fraction": frac, "units": int(units.size), "rank": fit.rank,
                    "seconds": round(seconds, 1), "alpha": round(fit.alpha, 4)}  # fmt: skip
            if rank is None:
                acc, behaviour, _ = evaluate(fit.model, units, w, probe, x_probe)
                line.update(
                    r2_test=round(fit.r2["test"], 4),
                    task_accuracy=round(acc, 3),
                    selectivity=behaviour,
                )
            else:
                line.update(
                    selected=fit.rank,
                    rank_r2_valid={k: round(v, 4) for k, v in fit.rank_r2.items()},
                )
            print(json.dumps(line), flush=True)
        for k, model in fit.rank_models.items():
            pred = ConstrainedFit(model, fit.units, k, fit.alpha, {}).rates(rec, test)[:, 1:]
            acc, behaviour, ratio = evaluate(model, units, w, probe, x_probe)
            print(
                json.dumps(
                    {
                        "fraction": frac,
                        "units": int(units.size),
                        "rank": k,
                        "r2_test": round(r2(pred, rec.activity[test][:, 1:]), 4),
                        "task_accuracy": round(acc, 3),
                        "selectivity": behaviour,
                        "gating_ratio": ratio,
                    }
                ),
                flush=True,
            )


if __name__ == "__main__":
    main()
