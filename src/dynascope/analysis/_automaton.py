"""Automaton extraction: attractors are states, input events are symbols (paper, Discussion)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .._validation import check_float, check_int
from ..exceptions import InvalidParameterError, ShapeError
from ..fixedpoints import FixedPoints
from ._common import as_model

__all__ = ["Automaton", "extract_automaton", "flipflop_symbols", "flipflop_truth"]

_OWNER = "extract_automaton"


def _sign_label(z: np.ndarray) -> str:
    return "".join("+" if v > 0 else "-" for v in z)


@dataclass(frozen=True)
class Automaton:
    """A finite-state automaton read off an RNN's attractors.

    Attributes
    ----------
    states : ndarray, shape (n_states, state_size)
        The attractors (stable fixed points) that are the automaton's states.
    labels : list of str
        One label per state (by default the signs of its readout, e.g. ``"+-+"``).
    readouts : ndarray, shape (n_states, n_out)
        The network's output at each attractor.
    symbols : list of str
        Names of the input events.
    transitions : ndarray of int, shape (n_states, n_symbols)
        ``transitions[s, a]`` is the state reached from state ``s`` after symbol ``a`` and
        relaxation, or ``-1`` when the network did not settle on any of the attractors.
    final_distance : ndarray, shape (n_states, n_symbols)
        Distance from the relaxed state to the attractor it was matched to (to the nearest one
        for ``-1`` entries).
    """

    states: np.ndarray
    labels: list[str]
    readouts: np.ndarray
    symbols: list[str]
    transitions: np.ndarray

    final_distance: np.ndarray

    @property
    def n_states(self) -> int:
        """Number of states."""
        return int(self.states.shape[0])

    @property
    def n_symbols(self) -> int:
        """Number of symbols."""
        return len(self.symbols)

    @property
    def n_transitions(self) -> int:
        """Number of defined transitions (entries of the table that reached an attractor)."""
        return int((self.transitions >= 0).sum())

    def table(self) -> dict[tuple[str, str], str | None]:
        """The transition table by labels: ``{(state, symbol): next state or None}``."""
        return {
            (self.labels[s], sym): (self.labels[t] if t >= 0 else None)
            for s in range(self.n_states)
            for a, sym in enumerate(self.symbols)
            for t in [int(self.transitions[s, a])]
        }

    def check(self, truth: Callable[[str, str], str]) -> list[tuple[str, str, str | None, str]]:
        """Compare the table with a truth function ``truth(state_label, symbol) -> label``.

        Returns
        -------
        list of (state, symbol, found, expected)
            The transitions that disagree (empty when the automaton is right everywhere).
        """
        return [
            (state, sym, found, truth(state, sym))
            for (state, sym), found in self.table().items()
            if found != truth(state, sym)
        ]

    def run(self, symbols: Sequence[str], start: str | int) -> list[str | None]:
        """Run the automaton on a symbol sequence; returns the state label after each symbol.

        Once an undefined transition is met the state is unknown (``None``) until the end.
        """
        index = {sym: a for a, sym in enumerate(self.symbols)}
        state: int | None = self.labels.index(start) if isinstance(start, str) else int(start)
        out: list[str | None] = []
        for sym in symbols:
            if sym not in index:
                raise InvalidParameterError(
                    f"Unknown symbol {sym!r}; this automaton has symbols {self.symbols}."
                )
            if state is not None:
                nxt = int(self.transitions[state, index[sym]])
                state = nxt if nxt >= 0 else None
            out.append(self.labels[state] if state is not None else None)
        return out

    def edges(self) -> list[tuple[int, int, str]]:
        """Defined transitions as ``(source, target, symbol)``, in table order."""
        return [
            (s, int(self.transitions[s, a]), sym)
            for s in range(self.n_states)
            for a, sym in enumerate(self.symbols)
            if self.transitions[s, a] >= 0
        ]

    def to_networkx(self) -> Any:
        """The automaton as a ``networkx.MultiDiGraph``.

        Nodes are state indices with attributes ``label`` and ``readout``; each transition is an
        edge with attribute ``symbol``. Requires the optional dependency networkx.
        """
        try:
            import networkx as nx
        except ImportError as exc:
            raise ImportError(
                "Automaton.to_networkx requires networkx: pip install networkx."
            ) from exc
        graph = nx.MultiDiGraph()
        for s in range(self.n_states):
            graph.add_node(s, label=self.labels[s], readout=self.readouts[s].tolist())
        for src, dst, sym in self.edges():
            graph.add_edge(src, dst, symbol=sym)
        return graph

    def to_dot(self, name: str = "automaton") -> str:
        """The automaton in Graphviz DOT (plain text; no dependency).

        Transitions between the same pair of states are merged into one edge whose label lists
        their symbols.
        """
        merged: dict[tuple[int, int], list[str]] = {}
        for src, dst, sym in self.edges():
            merged.setdefault((src, dst), []).append(sym)
        lines = [f'digraph "{_dot_escape(name)}" {{', "  rankdir=LR;"]
        for s in range(self.n_states):
            lines.append(f'  s{s} [label="{_dot_escape(self.labels[s])}"];')
        for (src, dst), syms in merged.items():
            lines.append(f'  s{src} -> s{dst} [label="{_dot_escape(",".join(syms))}"];')
        lines.append("}")
        return "\n".join(lines) + "\n"


def _dot_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _symbol_array(symbols: Mapping[str, Any], n_in: int) -> tuple[list[str], np.ndarray]:
    if not isinstance(symbols, Mapping) or len(symbols) == 0:
        raise InvalidParameterError(
            "The 'symbols' parameter of extract_automaton must be a non-empty mapping from "
            "symbol name to input pulse of shape (n_in,) or (n_pulse_steps, n_in)."
        )
    names = [str(k) for k in symbols]
    pulses = []
    for name, value in symbols.items():
        arr = np.asarray(value.detach().cpu() if isinstance(value, torch.Tensor) else value, float)
        if arr.ndim == 1:
            arr = arr[None, :]
        if arr.ndim != 2 or arr.shape[1] != n_in or arr.shape[0] == 0:
            raise ShapeError(
                f"symbol {name!r} must have shape (n_in={n_in},) or (n_pulse_steps, "
                f"n_in={n_in}); got {np.shape(value)}."
            )
        pulses.append(arr)
    length = max(p.shape[0] for p in pulses)
    # Shorter pulses are padded with zero input (rest) so that all symbols run batched.
    out = np.zeros((len(pulses), length, n_in))
    for i, p in enumerate(pulses):
        out[i, : p.shape[0]] = p
    return names, out


def _attractor_states(attractors: Any, state_size: int) -> np.ndarray:
    """The attractor states ``(n_states, state_size)`` in float64 (stable fixed points only)."""
    if isinstance(attractors, FixedPoints):
        points = attractors.fixed
        points = points[points.is_stable]
        states = np.asarray(points.x_star, dtype=np.float64)
    else:
        raw = attractors.detach().cpu() if isinstance(attractors, torch.Tensor) else attractors
        states = np.asarray(raw, dtype=np.float64)
    if states.ndim != 2 or states.shape[1] != state_size:
        raise ShapeError(
            f"attractors must have shape (n_states, state_size={state_size}); got {states.shape}."
        )
    if states.shape[0] == 0:
        raise InvalidParameterError(
            "There are no attractors to build an automaton on; find the fixed points with "
            "find_fixed_points and check that some are stable."
        )
    return states


def _state_labels(labels: Any, readouts: np.ndarray, n_s: int) -> list[str]:
    """One unique label per attractor: given, or from its readout (repeats get ``#k``)."""
    if labels is None or callable(labels):
        fn = labels if callable(labels) else _sign_label
        state_labels = [str(fn(z)) for z in readouts]
    else:
        state_labels = [str(v) for v in labels]
        if len(state_labels) != n_s:
            raise ShapeError(
                f"labels must have one entry per attractor ({n_s}); got {len(state_labels)}."
            )
    counts = Counter(state_labels)
    seen: dict[str, int] = {}
    for i, lab in enumerate(state_labels):  # keep labels unique: the table is keyed by them
        if counts[lab] > 1:
            seen[lab] = seen.get(lab, 0) + 1
            state_labels[i] = f"{lab}#{seen[lab]}"
    return state_labels


def extract_automaton(
    model: Any,
    attractors: FixedPoints | np.ndarray | torch.Tensor,
    symbols: Mapping[str, Any],
    *,
    relax_steps: int = 200,
    rest_input: Any = None,
    match_tol: float = 0.25,
    labels: Sequence[str] | Callable[[np.ndarray], str] | None = None,
) -> Automaton:
    r"""Read a finite-state automaton off an RNN's attractors.

    The states are the attractors (the stable fixed points), the symbols are input events
    (e.g. a +1 pulse on bit 2). For every (state, symbol) pair the network is started at the
    attractor, driven by the symbol's pulse, then left to relax under ``rest_input`` for
    ``relax_steps`` steps; the transition goes to the attractor the state settles on. All
    pairs run as one float64 batch on a copy of the model.

    Parameters
    ----------
    model : RNNModel or torch.nn.RNN/GRU/LSTM
        The network (not modified).
    attractors : FixedPoints or array, shape (n_states, state_size)
        A :class:`~dynascope.fixedpoints.FixedPoints` (its stable fixed points are used) or
        the attractor states themselves.
    symbols : mapping of str to array, shape (n_in,) or (n_pulse_steps, n_in)
        Input pulse of each symbol (see :func:`flipflop_symbols`).
    relax_steps : int, default 200
        Steps of ``rest_input`` after the pulse.
    rest_input : array, shape (n_in,), optional
        Input between events (default zeros).
    match_tol : float, default 0.25
        The relaxed state is matched to the nearest attractor if it lies within ``match_tol``
        times the distance between the two closest attractors (the state scale when there is
        one); otherwise the transition is undefined (``-1``).
    labels : sequence of str or callable, optional
        State labels, or a function of a state's readout ``(n_out,)`` returning its label.
        By default the readout signs (``"+"``/``"-"`` per output).

    Returns
    -------
    Automaton

    Raises
    ------
    InvalidParameterError
        For bad options or when there is no attractor.
    ShapeError
        If the attractors, symbols or rest input do not fit the model.

    Examples
    --------
    >>> import torch, dynascope
    >>> from dynascope.analysis import extract_automaton
    >>> net = dynascope.VanillaRNN(1, 1, 1, nonlinearity="tanh", bias=False, seed=0)
    >>> with torch.no_grad():
    ...     _ = net.weight_rec.fill_(2.0); _ = net.weight_in.fill_(4.0)
    ...     _ = net.weight_out.fill_(1.0); _ = net.bias_out.zero_()
    >>> corners = dynascope.find_fixed_points(net, initial_states=torch.linspace(-2, 2, 9)[:, None])
    >>> auto = extract_automaton(net, corners, {"up": [1.0], "down": [-1.0]})
    >>> sorted(auto.table().items())
    [(('+', 'down'), '-'), (('+', 'up'), '+'), (('-', 'down'), '-'), (('-', 'up'), '+')]
    """
    net = as_model(model)
    relax_steps = check_int(relax_steps, "relax_steps", _OWNER, min_value=0)
    match_tol = check_float(match_tol, "match_tol", _OWNER, min_value=0.0, min_inclusive=False)
    states = _attractor_states(attractors, net.state_size)
    names, pulses = _symbol_array(symbols, net.n_in)
    rest = np.zeros(net.n_in) if rest_input is None else np.asarray(rest_input, float)
    if rest.shape != (net.n_in,):
        raise ShapeError(f"rest_input must have shape (n_in={net.n_in},); got {rest.shape}.")

    n_s, n_a = states.shape[0], len(names)
    x0 = torch.as_tensor(np.repeat(states, n_a, axis=0))  # (s, a) pairs, symbol fastest
    drive = np.concatenate(
        [pulses, np.broadcast_to(rest, (n_a, relax_steps, net.n_in))], axis=1
    )  # (a, T, n_in)
    u = torch.as_tensor(np.tile(drive, (n_s, 1, 1)))
    with torch.no_grad():
        final = net(u, x0)[0][:, -1].numpy() if u.shape[1] else x0.numpy()
        readouts = net.readout(torch.as_tensor(states)).numpy()

    dist = np.linalg.norm(final[:, None, :] - states[None, :, :], axis=-1)
    nearest = dist.argmin(axis=1)
    best = dist[np.arange(len(dist)), nearest]
    if n_s > 1:
        gaps = np.linalg.norm(states[:, None] - states[None], axis=-1)
        scale = gaps[~np.eye(n_s, dtype=bool)].min()
    else:
        scale = float(np.sqrt((states**2).sum(1).mean())) or 1.0
    trans = np.where(best <= match_tol * scale, nearest, -1).reshape(n_s, n_a)

    return Automaton(
        states=states,
        labels=_state_labels(labels, readouts, n_s),
        readouts=readouts,
        symbols=names,
        transitions=trans.astype(np.int64),
        final_distance=best.reshape(n_s, n_a),
    )


def flipflop_symbols(
    n_bits: int = 3, *, amplitude: float = 1.0, pulse_width: int = 1
) -> dict[str, np.ndarray]:
    """The input events of the n-bit flip-flop: a ± pulse on each bit.

    Symbols are named ``"+k"`` and ``"-k"`` for bit ``k`` (0-based).

    Returns
    -------
    dict of str to ndarray, shape (pulse_width, n_bits)
    """
    n_bits = check_int(n_bits, "n_bits", "flipflop_symbols", min_value=1)
    pulse_width = check_int(pulse_width, "pulse_width", "flipflop_symbols", min_value=1)
    out = {}
    for k in range(n_bits):
        for sign, name in ((1.0, "+"), (-1.0, "-")):
            pulse = np.zeros((pulse_width, n_bits))
            pulse[:, k] = sign * amplitude
            out[f"{name}{k}"] = pulse
    return out


def flipflop_truth(state: str, symbol: str) -> str:
    """Truth table of the flip-flop on sign labels: symbol ``"±k"`` sets bit ``k`` to ±.

    >>> flipflop_truth("+-+", "+1")
    '+++'
    """
    sign, bit = symbol[0], int(symbol[1:])
    return state[:bit] + sign + state[bit + 1 :]
