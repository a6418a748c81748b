"""``import dynascope`` loads no heavy optional library (issue 30 part 4).

scikit-learn, matplotlib, numba, pandas, networkx and the larger SciPy submodules cost seconds
to import; the modules that use them import them on first use. Behavioural, not a timing test:
each check runs a fresh interpreter and reads its ``sys.modules``.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

HEAVY = (
    "sklearn",
    "matplotlib",
    "numba",
    "pandas",
    "pyarrow",
    "networkx",
    "scipy.stats",
    "scipy.optimize",
    "scipy.signal",
    "scipy.special",
    "scipy.interpolate",
    "scipy.integrate",
    "scipy.linalg",  # ~0.3 s through its array-API shims (numpy.f2py, charset_normalizer)
    "scipy.sparse",
    "plotly",
    # the recordings readers (the data extra)
    "pynwb",
    "hdmf",
    "h5py",
    "xarray",
    "h5netcdf",
)


def _loaded_after(code: str) -> list[str]:
    probe = f"{code}\nimport sys\nprint('LOADED', *[m for m in {HEAVY!r} if m in sys.modules])"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True
    )
    return out.stdout.splitlines()[-1].split()[1:]


@pytest.mark.parametrize(
    "code",
    [
        "import dynascope",
        "import dynascope.cli",
        # the CLI's --help must not load the experiments (and with them the analysis stack)
        "import sys\nfrom dynascope.cli import main\nsys.argv = ['dynascope', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass",
        # the readers of NWB, HDF5 and NetCDF load on first use, not with the package
        "import dynascope.recordings",
    ],
    ids=["import", "import-cli", "cli-help", "import-recordings"],
)
def test_start_up_imports_no_heavy_library(code):
    assert _loaded_after(code) == []


def test_heavy_libraries_still_load_when_used():
    # The lazy imports are real imports: using a function that needs one loads it.
    code = (
        "import numpy as np\n"
        "from dynascope.analysis import fit_state_space\n"
        "fit_state_space(np.random.default_rng(0).normal(size=(2, 5, 4)), n_components=2)"
    )
    assert "sklearn" in _loaded_after(code)
