"""Engineering without learning on the context task: networks drawn from a 2-population fit.

Dubreuil et al. (2022) report that rank-one networks of N = 4096 drawn from a Gaussian mixture
fitted to a trained context network solve the task without any learning (their public code's
stored notebook: 10 draws, 0.895–0.975, mean 0.944; one population 0.715–0.78). This script
separates the two possible causes of a difference from our runs:

``network PATH [--cue C]``
    Loads a trained network and draws networks from *our* fits of it: the default
    ``MeanFieldReduction`` (EM, soft responsibilities, most likely of k-means and random
    starts), the same with k-means starts only (the fit before random starts were added), and
    the published recipe on our labels (hard labels, zero means, each cluster's empirical
    covariance). PATH is a ``.pt`` state dict of the authors' code (e.g.
    ``models/mante_rank1_4096.pt`` of their repository, read with ``weights_only=True``:
    tensors only; ``--cue 0.5`` as it was trained) or our ``weights.safetensors``.
``train CUE SEED [HIDDEN]``
    Trains our rank-one network (the ``context`` experiment's recipe) on the task with context
    cue amplitude ``CUE`` (ours: 0.1; the published network was trained with 0.5) and draws
    from its plain 2-population fit. Their training, our fit.

Each prints one JSON line: accuracies of the trained network, of the fitted reduced models and
of each network drawn at N = 4096 (noise-free, 500 held-out trials of
``ContextDependentIntegration(context_cue=CUE)``). Run one at a time with ``nice``; ``train``
takes minutes (up to 3000 Adam steps at N = 512).
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np
import torch

from dynascope.experiments._lowrank_common import accuracy, resampled_accuracies
from dynascope.lowrank import MeanFieldReduction, Populations, loadings
from dynascope.models import LowRankRNN
from dynascope.tasks import ContextDependentIntegration
from dynascope.training import TrainConfig, train

DRAW_SIZE = 4096


def load_published(path: str) -> LowRankRNN:
    """The published rank-one network: h ← h + α(−h + m nᵀ tanh(h)/N + Wᵢₙᵀ u), z = tanh(h)·w/N."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    n = int(state["m"].shape[0])
    # α = dt/τ = 0.2, as published.
    net = LowRankRNN(int(state["wi"].shape[0]), n, int(state["wo"].shape[1]), rank=1,
                     tau=100.0, dt=20.0, seed=0)  # fmt: skip
    with torch.no_grad():
        net.m.copy_(state["m"])
        net.n.copy_(state["n"])
        net.weight_in.copy_(state["wi"].T * state["si"])
        net.weight_out.copy_((state["wo"] * state["so"]).T)
    return net


def hard_zero_mean(net: LowRankRNN, labels: np.ndarray) -> Populations:
    """The published resampling recipe: cluster weights, zero means, empirical covariances."""
    x = loadings(net)
    ks = np.unique(labels)
    return Populations(
        weights=np.array([(labels == k).mean() for k in ks]),
        means=np.zeros((len(ks), x.shape[1])),
        covariances=np.stack([np.cov(x[labels == k].T) for k in ks]),
        rank=1, n_in=net.n_in, n_out=net.n_out, tau=float(net.tau), dt=float(net.dt),
    )  # fmt: skip


def draws(pops: Populations, task: Any, batch: Any, n: int, seed: int) -> list[float]:
    return [round(a, 4) for a in resampled_accuracies(pops, task, batch, (DRAW_SIZE,), n,
                                                      seed)[DRAW_SIZE]]  # fmt: skip


def summary(net: Any, task: Any, seed: int, n_draws: int) -> dict[str, Any]:
    batch = task.sample(500, seed + 987_654)
    out: dict[str, Any] = {"accuracy": round(accuracy(net, task, batch), 4)}
    fits = {
        "1pop": MeanFieldReduction(n_populations=1, seed=seed),
        "2pop": MeanFieldReduction(n_populations=2, seed=seed),
        "2pop_kmeans_starts": MeanFieldReduction(n_populations=2, n_random_init=0, seed=seed),
    }
    for name, red in fits.items():
        red.fit(net)
        sim = red.simulate(batch.inputs)
        out[f"reduced_{name}"] = round(float(task.performance(sim.outputs, batch)), 4)
        out[f"draws_{name}"] = draws(red.populations_, task, batch, n_draws, seed)
    pops = hard_zero_mean(net, np.asarray(fits["2pop"].labels_))
    out["draws_2pop_hard_zero_mean"] = draws(pops, task, batch, n_draws, seed)
    for key in [k for k in out if k.startswith("draws_")]:
        out[key.replace("draws_", "mean_")] = round(float(np.mean(out[key])), 4)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="mode", required=True)
    pub = sub.add_parser("network")
    pub.add_argument("path")
    pub.add_argument("--cue", type=float, default=0.1)
    tr = sub.add_parser("train")
    tr.add_argument("cue", type=float)
    tr.add_argument("seed", type=int)
    tr.add_argument("hidden", type=int, nargs="?", default=512)
    tr.add_argument("--steps", type=int, default=3000)
    tr.add_argument("--stop-loss", type=float, default=None,
                    help="stop at this training loss (published: 0.01) instead of at 99%% "
                    "held-out accuracy (the context experiment's rule)")  # fmt: skip
    for s in (pub, tr):
        s.add_argument("--draws", type=int, default=10)
    a = p.parse_args()
    t0 = time.perf_counter()
    if a.mode == "network":
        import dynascope

        net = load_published(a.path) if a.path.endswith(".pt") else dynascope.load(a.path)
        seed, info = 0, {"network": a.path.rsplit("/", 1)[-1], "cue": a.cue}
    else:
        seed = a.seed
        task = ContextDependentIntegration(context_cue=a.cue)
        model = LowRankRNN(4, a.hidden, 1, rank=1, tau=100.0, dt=20.0, noise_std=0.05,
                           seed=seed)  # fmt: skip
        stop = {"early_stop_performance": 0.99} if a.stop_loss is None else {
            "early_stop_loss": a.stop_loss}  # fmt: skip
        cfg = TrainConfig(n_steps=a.steps, batch_size=32, lr=1e-2, grad_clip=1.0, eval_every=50,
                          eval_batch_size=512, seed=seed, **stop)  # fmt: skip
        result = train(model, task, cfg)
        net = result.model
        info = {"network": "ours", "cue": a.cue, "seed": seed, "hidden": a.hidden,
                "stop": stop, "steps_taken": result.steps, "stop_reason": result.stop_reason,
                "final_eval_loss": round(float(result.final_eval_loss), 4)}  # fmt: skip
    task = ContextDependentIntegration(context_cue=info["cue"])
    info.update(summary(net, task, seed, a.draws))
    info["wall_s"] = round(time.perf_counter() - t0)
    print(json.dumps(info), flush=True)


if __name__ == "__main__":
    main()
