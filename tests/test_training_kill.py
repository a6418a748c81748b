"""A training process killed with SIGKILL resumes to exactly the weights of an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from safetensors.torch import load_file

from dynascope.training import read_checkpoint

SCRIPT = textwrap.dedent(
    """
    import sys, time
    import torch
    from dynascope.models import RateRNN
    from dynascope.tasks import PerceptualDecision
    from dynascope.training import TrainConfig, train

    torch.set_num_threads(1)
    out_dir, resume, delay = sys.argv[1], sys.argv[2] == "1", float(sys.argv[3])
    config = TrainConfig(
        n_steps=40, batch_size=8, lr=1e-2, eval_every=7, eval_batch_size=16, log_every=3,
        checkpoint_every=5, lr_schedule="cosine", seed=3,
    )
    model = RateRNN(1, 16, 1, noise_std=0.1, seed=0)
    steps = []

    def callback(step, loss):
        steps.append(step)
        time.sleep(delay)

    train(model, PerceptualDecision(), config, out_dir=out_dir, resume=resume, callback=callback)
    print("first step", steps[0], flush=True)
    """
)


def _run(script, out_dir, resume, delay, log):
    with open(log, "wb") as fh:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, str(script), str(out_dir), "1" if resume else "0", str(delay)],
            stdout=fh,
            stderr=subprocess.STDOUT,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")
def test_sigkill_then_resume_matches_uninterrupted_run(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    killed_dir, full_dir = tmp_path / "killed", tmp_path / "full"

    logs = [tmp_path / f"log{i}.txt" for i in range(3)]
    proc = _run(script, killed_dir, resume=False, delay=0.1, log=logs[0])
    ckpt = killed_dir / "checkpoint.safetensors"
    deadline = time.monotonic() + 120
    step = 0
    while time.monotonic() < deadline and proc.poll() is None:
        if ckpt.exists():
            step = read_checkpoint(ckpt).step
            if step >= 10:
                break
        time.sleep(0.05)
    assert proc.poll() is None, logs[0].read_text()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    killed_at = read_checkpoint(ckpt).step
    assert 10 <= killed_at < 40
    assert not (killed_dir / "weights.safetensors").exists()

    full = _run(script, full_dir, resume=False, delay=0.0, log=logs[1])
    resumed = _run(script, killed_dir, resume=True, delay=0.0, log=logs[2])
    for p, log in ((full, logs[1]), (resumed, logs[2])):
        p.wait(timeout=120)
        assert p.returncode == 0, log.read_text()

    # the resumed process really started after the checkpoint, not from scratch
    assert f"first step {killed_at + 1}" in logs[2].read_text()
    assert "first step 1" in logs[1].read_text()
    a = load_file(full_dir / "weights.safetensors")
    b = load_file(killed_dir / "weights.safetensors")
    assert a.keys() == b.keys()
    for key in a:
        assert (a[key] == b[key]).all(), key
    assert (full_dir / "metrics.jsonl").read_text() == (killed_dir / "metrics.jsonl").read_text()
