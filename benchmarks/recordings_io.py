"""Reading a large NWB file of spike times (issue 26 part 1: 100 MB in ≤ 10 s).

Writes, with pynwb, an NWB file of ``--units`` units firing Poisson spikes at ``--rate`` Hz over
``--trials`` trials of ``--trial-s`` seconds (with 0.5 s between trials, whose spikes the reader
must skip): about 100 MB of float64 spike times by default. Then times, interleaved in one run
so that both see the same machine load:

- ``raw pynwb``: what any reader must do at least, ``NWBHDF5IO.read()`` plus the units table's
  spike times and the trials table's start/stop times as NumPy arrays;
- ``load_recordings``: :func:`dynascope.recordings.load_recordings` with ``--bin-size``, i.e.
  the same reading plus the checks (NaN, order, ragged index) and binning into counts
  (trials, time, units).

Prints the median wall time of ``--repeats`` of each, their ratio, the median CPU time (the
steadier measure on a shared machine), peak memory, and checks the binned counts against
``np.histogram`` for a few units and trials. Last, it writes the loaded recording with
:func:`~dynascope.recordings.write_nwb` (once, timed) and checks it reads back exactly.

Usage::

    python benchmarks/recordings_io.py [--units 400] [--trials 500] [--trial-s 2] [--rate 30]
        [--bin-size 0.01] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np


def write_file(path: Path, args: argparse.Namespace) -> int:
    import pynwb
    from hdmf.common import ElementIdentifiers, VectorData, VectorIndex
    from pynwb.misc import Units

    rng = np.random.default_rng(0)
    period = args.trial_s + 0.5
    session = args.trials * period
    nwb = pynwb.NWBFile(
        session_description="benchmark",
        identifier="recordings-io",
        session_start_time=datetime(2024, 1, 1, tzinfo=UTC),
    )
    for i in range(args.trials):
        nwb.add_trial(start_time=i * period, stop_time=i * period + args.trial_s)
    times = [
        np.sort(rng.uniform(0.0, session, rng.poisson(args.rate * session)))
        for _ in range(args.units)
    ]
    # the ragged column built from arrays (add_unit per unit converts element by element)
    spikes = VectorData(name="spike_times", description="s", data=np.concatenate(times))
    index = VectorIndex(
        name="spike_times_index", target=spikes, data=np.cumsum([len(t) for t in times])
    )
    nwb.units = Units(
        name="units",
        description="units",
        columns=[spikes, index],
        id=ElementIdentifiers(name="id", data=np.arange(args.units)),
    )
    n_spikes = len(spikes.data)
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    return n_spikes


def raw_read(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    import pynwb

    with pynwb.NWBHDF5IO(str(path), "r") as io:
        nwb = io.read()
        index = nwb.units["spike_times_index"]
        times, ends = np.asarray(index.target.data[:]), np.asarray(index.data[:])
        start = np.asarray(nwb.trials["start_time"].data[:])
        return times, ends, start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--units", type=int, default=400)
    parser.add_argument("--trials", type=int, default=500)
    parser.add_argument("--trial-s", type=float, default=2.0)
    parser.add_argument("--rate", type=float, default=30.0)
    parser.add_argument("--bin-size", type=float, default=0.01)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from threadpoolctl import threadpool_info

    from dynascope.recordings import load_recordings, write_nwb

    threads = {i["internal_api"]: i["num_threads"] for i in threadpool_info()}
    print(
        f"python {platform.python_version()}, {os.cpu_count()} CPUs, BLAS/OpenMP threads "
        f"{threads}, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.nwb"
        t0 = time.perf_counter()
        n_spikes = write_file(path, args)
        print(
            f"wrote {path.stat().st_size / 1e6:.1f} MB: {args.units} units, {args.trials} "
            f"trials of {args.trial_s:g} s, {n_spikes:,} spikes in "
            f"{time.perf_counter() - t0:.1f} s"
        )
        raw_s, load_s, raw_cpu, load_cpu = [], [], [], []
        for _ in range(args.repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            times, ends, start = raw_read(path)
            raw_s.append(time.perf_counter() - t0)
            raw_cpu.append(time.process_time() - c0)
            t0, c0 = time.perf_counter(), time.process_time()
            rec = load_recordings(path, bin_size=args.bin_size)
            load_s.append(time.perf_counter() - t0)
            load_cpu.append(time.process_time() - c0)
        # the binning, checked against np.histogram on a few units and trials
        rng = np.random.default_rng(1)
        edges = np.arange(rec.n_time + 1) * args.bin_size
        for u in rng.choice(args.units, 5, replace=False):
            s = times[(ends[u - 1] if u else 0) : ends[u]]
            for i in rng.choice(args.trials, 5, replace=False):
                want = np.histogram(s - start[i], edges)[0]
                assert (rec.activity[i, :, u] == want).all(), (u, i)
        print(
            f"activity {rec.activity.shape}, {int(rec.activity.sum()):,} spikes inside "
            "trials; 25 (unit, trial) pairs match np.histogram"
        )
        # the writer on the same recording (once): write_nwb, then read back exactly
        t0 = time.perf_counter()
        copy = write_nwb(rec, Path(tmp) / "copy.nwb")
        write_s = time.perf_counter() - t0
        back = load_recordings(copy, bin_size=args.bin_size)
        assert np.array_equal(back.activity, rec.activity)
        print(
            f"write_nwb of that recording: {write_s:.2f} s ({copy.stat().st_size / 1e6:.1f} MB),"
            " read back exactly"
        )
    raw, load = statistics.median(raw_s), statistics.median(load_s)
    print(
        f"median of {args.repeats}: raw pynwb read {raw:.2f} s, load_recordings {load:.2f} s "
        f"(ratio {load / raw:.2f}); target <= 10 s: {'met' if load <= 10 else 'NOT met'}"
    )
    print(
        f"CPU time (steadier on a shared machine), median: raw {statistics.median(raw_cpu):.2f}"
        f" s, load_recordings {statistics.median(load_cpu):.2f} s"
    )
    print(
        f"load_recordings samples: {', '.join(f'{x:.2f}' for x in load_s)}; raw: "
        f"{', '.join(f'{x:.2f}' for x in raw_s)}"
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"peak RSS of this process (writing, reading, checks): {peak:.0f} MiB; the activity "
        f"array alone is {rec.activity.nbytes / 2**20:.0f} MiB"
    )


if __name__ == "__main__":
    main()
