"""Every row of the op table (tests/op_table.py) through minseg.testing.check_op: the torch twin
(forward and every input's gradient under a random upstream gradient), the loop reference (forward,
and backward where it has its own), and gradcheck in float64 on the cases small enough for it."""
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support import examples as examples_of
from tests.op_table import ROWS, check_row

pytestmark = [pytest.mark.usefixtures("one_thread"), pytest.mark.filterwarnings("ignore:Using padding='same'")]

def _run(row, examples: int) -> None:
    """``examples`` hypothesis cases of ``row``, each through check_op."""
    @examples_of(examples)
    @given(st.data())
    def run(data):
        check_row(row, data.draw(row.cases, label="case"))

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
