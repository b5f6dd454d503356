"""The graph walk itself: accumulation, broadcasting, deep graphs, no_grad, dtypes, bad input."""
import numpy as np
import pytest

import minseg as ms


def test_backward_twice_accumulates_like_torch():
    torch = pytest.importorskip("torch")
    x = ms.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    y.backward()
    t = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    ty = (t * t).sum()
    ty.backward(retain_graph=True)
    ty.backward()
    np.testing.assert_allclose(x.grad, t.grad.numpy())
    np.testing.assert_allclose(x.grad, [4.0, 8.0, 12.0])  # 2 * (2x)


def test_shared_subexpression_gets_both_paths():
    # y = a*b + a  => dy/da = b + 1, dy/db = a
    a = ms.tensor(3.0, requires_grad=True)
    b = ms.tensor(4.0, requires_grad=True)
    (a * b + a).backward()
    assert a.grad == pytest.approx(5.0) and b.grad == pytest.approx(3.0)


def test_broadcast_gradient_is_summed_back_to_input_shape():
    x = ms.tensor(np.ones((2, 3, 4)), requires_grad=True, dtype=np.float64)
    b = ms.tensor(np.ones((3, 1)), requires_grad=True, dtype=np.float64)
    (x * b).sum().backward()
    assert b.grad.shape == (3, 1)
    np.testing.assert_allclose(b.grad, np.full((3, 1), 8.0))


def test_deep_graph_does_not_hit_recursion_limit():
    x = ms.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0 + 0.0
    y.backward()
    assert x.grad == pytest.approx(1.0)


def test_no_grad_records_nothing():
    x = ms.tensor([1.0], requires_grad=True)
    with ms.no_grad():
        y = x * 2
    assert not y.requires_grad and y.is_leaf
    assert ms.is_grad_enabled()


def test_default_dtype_is_float32_and_float64_is_kept():
    assert ms.tensor([1, 2]).dtype == np.int64
    assert ms.tensor(2.5).dtype == np.float32
    assert ms.tensor([1.0, 2.0]).dtype == np.float32
    assert ms.tensor(np.zeros(3, np.float64)).dtype == np.float64
    assert ms.tensor(np.zeros(3, np.float16)).dtype == np.float32
    assert (ms.tensor(np.zeros(3, np.float64)) * 2).dtype == np.float64
    assert ms.tensor([1.0], dtype=np.float64).dtype == np.float64


def test_tensor_copies_and_numpy_shares():
    a = np.zeros(3, np.float32)
    t = ms.tensor(a)
    a[0] = 1
    assert t.data[0] == 0
    t.numpy()[1] = 5
    assert t.data[1] == 5


def test_backward_on_non_scalar_without_grad_names_the_problem():
    x = ms.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match="backward: grad can be implicitly created only for scalar"):
        (x * 2).backward()


def test_backward_with_wrong_grad_shape():
    x = ms.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match=r"backward: grad must have the output's shape \(2,\)"):
        (x * 2).backward(np.ones(3))


def test_backward_without_graph_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        ms.tensor([1.0]).sum().backward()


def test_mismatched_dtypes_are_a_type_error_naming_the_op():
    a = ms.tensor(np.ones(2, np.float32))
    b = ms.tensor(np.ones(2, np.float64))
    with pytest.raises(TypeError, match="add: other has dtype float64 but input has dtype float32"):
        a + b
    with pytest.raises(TypeError, match="matmul"):
        a @ b


def test_wrong_shapes_are_a_value_error_naming_the_op():
    with pytest.raises(ValueError, match=r"mul: shapes \(2, 3\) and \(4,\) cannot be broadcast"):
        ms.tensor(np.ones((2, 3))) * ms.tensor(np.ones(4))
    with pytest.raises(ValueError, match="matmul: input's last dim"):
        ms.tensor(np.ones((2, 3))) @ ms.tensor(np.ones((2, 3)))
    with pytest.raises(ValueError, match="reshape: shape"):
        ms.tensor(np.ones(6)).reshape(4, 2)
    with pytest.raises(ValueError, match="sum: dim must be an int"):
        ms.tensor(np.ones(6)).sum(dim=3)
    with pytest.raises(ValueError, match="cat: tensors\\[1\\] has shape"):
        ms.cat([ms.tensor(np.ones((2, 3))), ms.tensor(np.ones((2, 4)))], dim=0)


def test_integer_tensor_cannot_require_grad():
    with pytest.raises(TypeError, match="only floating-point"):
        ms.tensor([1, 2], requires_grad=True)


def test_reflected_operators():
    x = ms.tensor([2.0], requires_grad=True)
    y = 1 - x + 3 / x + 2 * x + 2 ** x
    y.backward()
    # d/dx: -1 - 3/x^2 + 2 + 2^x ln 2
    assert x.grad[0] == pytest.approx(-1 - 3 / 4 + 2 + 4 * np.log(2), rel=1e-5)


def test_needs_input_grad_is_true_only_for_tensors_that_require_grad():
    from minseg.autograd import Function

    seen = []

    class Probe(Function):
        @staticmethod
        def forward(ctx, a, b, c):
            return a + b + c

        @staticmethod
        def backward(ctx, g):
            seen.append(ctx.needs_input_grad)
            return g, g, g

    a = ms.tensor([1.0], requires_grad=True)
    b = ms.tensor([2.0])
    Probe.apply(a, b, np.ones(1, np.float32)).sum().backward()
    assert seen == [(True, False, False)]
    assert b.grad is None and a.grad.tolist() == [1.0]


def test_a_leaf_grad_never_aliases_the_callers_gradient_or_another_leafs():
    """Backward keeps a fresh gradient array as a leaf's .grad (no copy) only when nothing else refers to
    it: the grad passed to backward, a gradient that flows unchanged to two leaves, a view, stay copies."""
    g = np.ones((2, 3), np.float32)
    a, b = ms.tensor(np.zeros((2, 3)), requires_grad=True), ms.tensor(np.zeros((2, 3)), requires_grad=True)
    (a + b).backward(g)
    assert not np.shares_memory(a.grad, g) and not np.shares_memory(b.grad, g)
    assert not np.shares_memory(a.grad, b.grad)
    c = ms.tensor(np.zeros((2, 3)), requires_grad=True)
    c.reshape(6).backward(np.arange(6, dtype=np.float32))  # reshape's backward returns a view
    assert c.grad.base is None and c.grad.flags.writeable
    np.testing.assert_array_equal(c.grad, np.arange(6).reshape(2, 3))
    d = ms.tensor(np.ones(3), requires_grad=True)
    (d * 3.0).sum().backward()  # a fresh product: kept as it is, and right
    (d * 3.0).sum().backward()  # accumulated
    np.testing.assert_array_equal(d.grad, [6.0, 6.0, 6.0])


def test_a_leaf_keeps_a_reshaped_fresh_gradient_but_copies_a_view_of_a_saved_array():
    """A backward that returns a reshape of an array it just made hands the leaf that memory (no copy);
    if the Function also keeps the array (here in ``kept``), the leaf gets a copy."""
    from minseg.autograd import Function

    kept = []

    class Reshaping(Function):
        @staticmethod
        def forward(ctx, a, keep=False):
            ctx.keep = keep
            return a.reshape(-1)

        @staticmethod
        def backward(ctx, g):
            fresh = g * 2.0
            if ctx.keep:
                kept.append(fresh)
            return (fresh.reshape(2, 3),)

    a = ms.tensor(np.zeros((2, 3)), requires_grad=True)
    Reshaping.apply(a).backward(np.arange(6.0))
    assert a.grad.base is not None and a.grad.base.shape == (6,)  # the backward's own array, kept
    np.testing.assert_array_equal(a.grad, 2 * np.arange(6.0).reshape(2, 3))
    b = ms.tensor(np.zeros((2, 3)), requires_grad=True)
    Reshaping.apply(b, keep=True).backward(np.arange(6.0))
    assert not np.shares_memory(b.grad, kept[0])
    np.testing.assert_array_equal(b.grad, 2 * np.arange(6.0).reshape(2, 3))
