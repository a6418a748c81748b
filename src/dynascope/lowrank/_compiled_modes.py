"""Constants shared by :mod:`._compiled` and its Numba kernels :mod:`._compiled_numba`.

In a module of their own so that the kernels (which need Numba) and the driver (which must
import without it) both read them without importing each other.
"""

from __future__ import annotations

#: Table of the centred average: s in [0, _S_MAX], step 1 / _INV_H.
_S_MAX = 16.0
_INV_H = 4096.0

# Modes of the kernel (one compiled function for all nonlinearities).
_TANH_TABLE, _TANH, _SOFTPLUS, _RELU, _IDENTITY = 0, 1, 2, 3, 4
