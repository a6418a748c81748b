"""Train the 2-bit flip-flop ReLU ``torch.nn.RNN`` of ``relu_flipflop.pt`` in plain torch.

A network trained outside dynascope, as a user would: ``nn.RNN(nonlinearity="relu")`` and an
``nn.Linear`` readout, Adam on the masked MSE, saved as a state dict. The task data come from
:class:`dynascope.tasks.FlipFlop` with the flip-flop experiment's settings (64 steps, pulses
with probability 0.1 up and 0.1 down, ±1 targets), so ``dynascope run flipflop --model`` scores
it on the task it learnt. Seeded; about a minute on one CPU thread.

    python tests/data/make_relu_flipflop.py tests/data/relu_flipflop.pt
"""

from __future__ import annotations

import sys

import torch
from torch import nn

from dynascope.tasks import FlipFlop

N_BITS, HIDDEN, STEPS, BATCH = 2, 24, 1500, 64


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.rnn = nn.RNN(N_BITS, HIDDEN, nonlinearity="relu", batch_first=True)
        self.readout = nn.Linear(HIDDEN, N_BITS)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        h, _ = self.rnn(u)
        return self.readout(h)


def main(path: str) -> None:
    torch.manual_seed(0)
    task = FlipFlop(N_BITS, 64, p_up=0.1, p_down=0.1, targets="signed")
    net = Net()
    with torch.no_grad():  # start near the identity, which ReLU RNNs need (Le et al. 2015)
        net.rnn.weight_hh_l0.copy_(0.9 * torch.eye(HIDDEN))
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    for step in range(STEPS):
        b = task.sample(BATCH, seed=step)
        u, y, m = (torch.as_tensor(a) for a in (b.inputs, b.targets, b.mask))
        loss = ((net(u) - y) ** 2 * m).sum() / m.sum()
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
    b = task.sample(512, seed=10_000)
    with torch.no_grad():
        out = net(torch.as_tensor(b.inputs)).numpy()
    print(f"loss {loss.item():.4f}  held-out bit accuracy {task.performance(out, b):.4%}")
    torch.save(net.state_dict(), path)


if __name__ == "__main__":
    main(sys.argv[1])
