"""`sorted_distinct` is `np.unique` of a 1-D array (without importing `numpy.ma`)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from hitcount.model.columns import sorted_distinct

DTYPES = st.sampled_from([np.int64, np.uint64, np.int32, np.uint16, np.int16, np.float64])


@given(DTYPES.flatmap(lambda dtype: hnp.arrays(dtype, st.integers(0, 300),
                                               elements=st.integers(0, 40))))  # fmt: skip
def test_sorted_distinct_is_numpys_unique(values: np.ndarray) -> None:
    got, expected = sorted_distinct(values), np.unique(values)
    assert got.dtype == expected.dtype
    assert np.array_equal(got, expected)


def test_it_leaves_numpy_ma_unloaded() -> None:
    code = (
        "import sys, numpy as np\nfrom hitcount.model.columns import sorted_distinct\n"
        "sorted_distinct(np.array([3, 1, 3]))\nprint('numpy.ma' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
