"""Every row of the op table (tests/op_table.py) through minseg.testing.check_op: the torch twin
(forward and every input's gradient under a random upstream gradient), the loop reference (forward,
and backward where it has its own), and gradcheck in float64 on the cases small enough for it."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minseg.testing import check_op
from tests.support import examples as examples_of
from tests.op_table import ROWS

pytestmark = [pytest.mark.usefixtures("one_thread"), pytest.mark.filterwarnings("ignore:Using padding='same'")]

# finite differences cost two forward passes per element: only cases up to this size are gradchecked
GRADCHECK_MAX_ELEMENTS = 400


def _check_row(row, case):
    wanted = row.differentiable or [i for i, a in enumerate(case.inputs) if np.asarray(a).dtype.kind == "f"]
    size = sum(np.asarray(case.inputs[i]).size for i in wanted)
    check_op(row.op, case.inputs, row.torch_op, row.reference, row.reference_backward, kwargs=case.kwargs,
             differentiable=row.differentiable, gradcheck_inputs=size <= GRADCHECK_MAX_ELEMENTS, atol=row.atol)


def _run(row, examples: int) -> None:
    """``examples`` hypothesis cases of ``row``, each through check_op."""
    @examples_of(examples)
    @given(st.data())
    def run(data):
        _check_row(row, data.draw(row.cases, label="case"))

    run()


@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
def test_op(row):
    _run(row, row.examples)


SLOW_ROWS = [row for row in ROWS if row.slow_examples]


@pytest.mark.slow
@pytest.mark.parametrize("row", SLOW_ROWS, ids=[row.name for row in SLOW_ROWS])
def test_op_thoroughly(row):
    """The costly rows again with ``slow_examples`` examples (the slow run)."""
    _run(row, row.slow_examples)
