import numpy as np
import pytest

import fastnet
import fastnet.reference

# Tolerances per dtype, in one place: kernel-level agreement between the compiled
# kernels and their NumPy twins (relative to the size of the values compared).
TOL = {np.float32: 2e-5, np.float64: 1e-12}

IMPLEMENTATIONS = {"fastnet": fastnet, "reference": fastnet.reference}


@pytest.fixture(params=sorted(IMPLEMENTATIONS))
def impl(request):
    """Each public-API test runs on both implementations."""
    return IMPLEMENTATIONS[request.param]


def max_rel_diff(a, b):
    """Largest |a - b| relative to the largest |b| (0 when both are 0)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = max(np.max(np.abs(b)), 1e-300)
    return float(np.max(np.abs(a - b)) / scale)
