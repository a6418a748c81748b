"""Variants of the CtDB 3-bit flip-flop fit, scored as CtDB scores them (no fixed points).

Makes one dataset draw by CtDB's recipe (the shipped generator, or one trained by another
recipe), fits ``fit_to_recordings`` with the benchmark's options updated by ``--opts``, and
prints one JSON line: CtDB's four scores on the validation trials, the rate R² on the training
trials (how much of the gap is generalisation), the best step and the fit's CPU seconds.
``benchmarks/RESULTS.md`` ("Where the rate R² goes with more units") has the measurements.

Three variants are not options of ``fit_to_recordings``; this script patches them into its
fit for the measurement only (they did not earn a place in the library):

- ``"_ema": β``: the held-out evaluation (and the weights kept) uses an exponential moving
  average of the weights with factor β;
- ``"_readout_noise": σ``: Gaussian noise of standard deviation σ added to the latent states
  before the readout, in training only;
- ``"_readout_l2": λ``: ``λ ‖C‖²`` (C: the readout's weights) added to the training loss.

Run from the repository root, e.g.::

    python benchmarks/ctdb_fit_variants.py --data-seed 1 --opts '{"n_hidden": 64}'
    python benchmarks/ctdb_fit_variants.py --data-seed 1 --ceilings 0 16
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

import numpy as np
import torch

from dynascope.recordings import _fit as fit_module
from dynascope.recordings import (
    ctdb_flipflop_generator,
    ctdb_rate_r2,
    ctdb_scores,
    fit_to_recordings,
    make_ctdb_flipflop,
)

#: the fit of ``benchmarks/ctdb_flipflop.py`` (its defaults)
BASE = dict(
    model="gru", n_hidden=32, likelihood="poisson", link="exp", n_steps=3000, lr=1e-2,
    batch_size=32, eval_every=20, dtype="float32", seed=0, encoder_frames=0,
)  # fmt: skip


def _patch(variants: dict[str, float]) -> None:
    """Patch the variants into ``fit_to_recordings``'s fit (this process only)."""
    run_cls, net_cls = fit_module._FitRun, fit_module._FitNet
    if "_readout_l2" in variants:
        lam = variants["_readout_l2"]
        loss_of = run_cls.loss_of

        def penalised(self: Any, i: int) -> torch.Tensor:
            return loss_of(self, i) + lam * self.net.readout.weight.pow(2).sum()

        run_cls.loss_of = penalised  # type: ignore[method-assign]
    if "_readout_noise" in variants:
        sigma = variants["_readout_noise"]
        states = net_cls.states

        def noisy(self: Any, y_enc: Any, u: Any, generator: Any = None) -> torch.Tensor:
            x = states(self, y_enc, u, generator)
            if self.training:
                x = x + sigma * torch.randn(x.shape, generator=generator, dtype=x.dtype)
            return x

        net_cls.states = noisy  # type: ignore[method-assign]
    if "_ema" in variants:
        beta = variants["_ema"]
        after_step = run_cls.after_step

        def averaged(self: Any, i: int, loss: float) -> bool:
            now = self.net.state_dict()
            if not hasattr(self, "ema"):
                self.ema = {k: v.detach().clone() for k, v in now.items()}
            else:
                for k, v in now.items():
                    if v.is_floating_point():
                        self.ema[k].mul_(beta).add_(v.detach(), alpha=1 - beta)
            step = self.loop.step
            if step % self.opts["eval_every"] and step != self.opts["n_steps"]:
                return after_step(self, i, loss)
            raw = {k: v.detach().clone() for k, v in now.items()}
            self.net.load_state_dict(self.ema)  # evaluated, and kept if best
            out = after_step(self, i, loss)
            self.net.load_state_dict(raw)
            return out

        run_cls.after_step = averaged  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-seed", type=int, default=0)
    parser.add_argument("--opts", default="{}", help="JSON: fit options and variants")
    parser.add_argument(
        "--generator", default=None, help="a trained generator's file (default: the shipped one)"
    )
    parser.add_argument(
        "--ceilings",
        nargs=2,
        type=int,
        metavar=("FIRST", "STOP"),
        help="only score the true rates and latents of draws FIRST..STOP-1 (no fit)",
    )
    args = parser.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    generator = (
        ctdb_flipflop_generator(pretrained=True)
        if args.generator is None
        else ctdb_flipflop_generator(cache=args.generator)
    )
    if args.ceilings:
        for seed in range(*args.ceilings):
            d = make_ctdb_flipflop(generator, n_trials=1000, seed=seed)
            s = ctdb_scores(d, d.rates, d.recordings.latents)
            print(json.dumps({"seed": seed, "co_bps": s.co_bps, "cycle": s.cycle_consistency}))
        return
    given = json.loads(args.opts)
    variants = {k: v for k, v in given.items() if k.startswith("_")}
    _patch(variants)
    options = {**BASE, **{k: v for k, v in given.items() if not k.startswith("_")}}
    rec = make_ctdb_flipflop(generator, n_trials=1000, seed=args.data_seed).recordings
    assert rec.true_rates is not None
    cpu = time.process_time()
    fit = fit_to_recordings(rec, **options)
    cpu = time.process_time() - cpu
    pred, states = fit.predict(rec), fit.states(rec)
    s = ctdb_scores(rec, pred, states)
    train = rec.trials("train")
    print(
        json.dumps(
            {
                "data_seed": args.data_seed,
                "opts": given,
                "rate_r2": round(s.rate_r2, 4),
                "state_r2": round(s.state_r2, 4),
                "co_bps": round(s.co_bps, 4),
                "cycle_consistency": round(s.cycle_consistency, 4),
                "train_rate_r2": round(ctdb_rate_r2(rec.true_rates[train], pred[train]), 4),
                "best_step": fit.best_step,
                "fit_cpu_s": round(cpu, 1),
                "latent_pca_top3": round(float(_top3(states[rec.trials("valid")])), 3),
            }
        )
    )


def _top3(latents: np.ndarray) -> float:
    """The share of the latents' variance in their first three principal components."""
    z = latents.reshape(-1, latents.shape[-1])
    ev = np.linalg.eigvalsh(np.cov(z.T))
    return float(ev[-3:].sum() / ev.sum())


if __name__ == "__main__":
    main()
