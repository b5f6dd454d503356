"""Every core op against torch (forward and every input's gradient) on random shapes, plus gradcheck."""
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minseg as ms
import minseg.functional as F
from minseg.testing import check_op, gradcheck
from tests.support import examples

SHAPES = hnp.array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=4)
BROADCAST = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=4)


def data(draw_seed, shape, low=-2.0, high=2.0, dtype=np.float32):
    return np.random.default_rng(draw_seed).uniform(low, high, size=shape).astype(dtype)


def positive(seed, shape, dtype=np.float32):
    return data(seed, shape, 0.5, 2.0, dtype)


# name -> (minseg function, torch function, input maker)
UNARY = {
    "neg": (lambda x: -x, lambda x: -x, data),
    "exp": (lambda x: x.exp(), torch.exp, data),
    "log": (lambda x: x.log(), torch.log, positive),
    "sqrt": (lambda x: x.sqrt(), torch.sqrt, positive),
    "abs": (lambda x: x.abs(), torch.abs, data),
    "relu": (F.relu, torch.relu, data),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.2), lambda x: torch.nn.functional.leaky_relu(x, 0.2), data),
    "sigmoid": (F.sigmoid, torch.sigmoid, data),
    "tanh": (F.tanh, torch.tanh, data),
    "clamp": (lambda x: x.clamp(-0.5, 0.7), lambda x: x.clamp(-0.5, 0.7), data),
    "clamp_min": (lambda x: ms.clamp(x, min=0.1), lambda x: torch.clamp(x, min=0.1), data),
    "pow_scalar": (lambda x: x ** 3, lambda x: x ** 3, data),
}
BINARY = {
    "add": (lambda a, b: a + b, lambda a, b: a + b, data),
    "sub": (lambda a, b: a - b, lambda a, b: a - b, data),
    "mul": (lambda a, b: a * b, lambda a, b: a * b, data),
    "div": (lambda a, b: a / b, lambda a, b: a / b, positive),
    "pow": (lambda a, b: a ** b, lambda a, b: a ** b, positive),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@examples(60)
@given(shape=SHAPES, seed=st.integers(0, 2**16))
def test_unary_vs_torch(name, shape, seed):
    ours, theirs, make = UNARY[name]
    check_op(ours, [make(seed, shape)], theirs, gradcheck_inputs=False, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(BINARY))
@examples(80)
@given(shapes=BROADCAST, seed=st.integers(0, 2**16))
def test_binary_broadcasting_vs_torch(name, shapes, seed):
    ours, theirs, make = BINARY[name]
    a, b = shapes.input_shapes
    check_op(ours, [make(seed, a), make(seed + 1, b)], theirs, gradcheck_inputs=False, atol=1e-5)


@examples(100)
@given(batch=hnp.array_shapes(min_dims=0, max_dims=2, max_side=3), n=st.integers(1, 5),
       k=st.integers(1, 5), m=st.integers(1, 5), seed=st.integers(0, 2**16),
       vector=st.sampled_from(["none", "left", "right"]))
def test_matmul_batched_vs_torch(batch, n, k, m, seed, vector):
    a_shape = (k,) if vector == "left" else batch + (n, k)
    b_shape = (k,) if vector == "right" else (k, m)
    check_op(ms.matmul, [data(seed, a_shape), data(seed + 1, b_shape)], torch.matmul, gradcheck_inputs=False,
             atol=1e-5)


def _dims(draw, ndim):
    if ndim == 0:
        return None
    return draw(st.one_of(st.none(), st.integers(-ndim, ndim - 1),
                          st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True).map(tuple)))


@pytest.mark.parametrize("op", ["sum", "mean", "amax"])
@examples(100)
@given(shape=SHAPES, keepdim=st.booleans(), seed=st.integers(0, 2**16), data_=st.data())
def test_reductions_vs_torch(op, shape, keepdim, seed, data_):
    dim = _dims(data_.draw, len(shape))
    ours = lambda x: getattr(ms, op)(x, dim=dim, keepdim=keepdim)  # noqa: E731
    def theirs(x):
        if dim is None:
            return getattr(torch, op)(x) if not keepdim else getattr(torch, op)(
                x, dim=tuple(range(x.ndim)), keepdim=True) if x.ndim else getattr(torch, op)(x)
        return getattr(torch, op)(x, dim=dim, keepdim=keepdim)
    check_op(ours, [data(seed, shape)], theirs, gradcheck_inputs=False, rtol=1e-5, atol=1e-6)


def test_amax_ties_share_gradient_like_torch():
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]], np.float32)
    # a 3-way tie has no derivative (finite differences see half the step), so no gradcheck here
    check_op(ms.amax, [x], torch.amax, kwargs=dict(dim=1), gradcheck_inputs=False, atol=1e-5)


@examples(100)
@given(shape=hnp.array_shapes(min_dims=1, max_dims=4, max_side=4), seed=st.integers(0, 2**16), data_=st.data())
def test_reshape_permute_transpose_vs_torch(shape, seed, data_):
    perm = data_.draw(st.permutations(range(len(shape))))
    d0, d1 = data_.draw(st.integers(0, len(shape) - 1)), data_.draw(st.integers(0, len(shape) - 1))

    def both(x):  # the same chain of views in either library
        return x.permute(*perm).reshape(-1, 1).transpose(0, 1) * 2 + x.transpose(d0, d1).sum()

    check_op(both, [data(seed, shape)], both, gradcheck_inputs=False, atol=1e-5)


@examples(100)
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=5), seed=st.integers(0, 2**16), data_=st.data())
def test_indexing_and_slicing_vs_torch(shape, seed, data_):
    index = data_.draw(hnp.basic_indices(shape, allow_ellipsis=True, allow_newaxis=False).filter(
        lambda i: all((s.step or 1) > 0 for s in (i if isinstance(i, tuple) else (i,))
                      if isinstance(s, slice))))  # torch has no negative steps
    check_op(lambda x: x[index] * 1.0, [data(seed, shape)], lambda x: x[index] * 1.0, gradcheck_inputs=False,
             atol=1e-5)


def test_advanced_indexing_with_repeats_accumulates_like_torch():
    rows = np.array([0, 2, 0, 0])
    check_op(lambda x: x[rows], [data(0, (3, 4))], lambda x: x[torch.from_numpy(rows)], atol=1e-5)


@examples(100)
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), n=st.integers(1, 3),
       seed=st.integers(0, 2**16), data_=st.data())
def test_cat_and_stack_vs_torch(shape, n, seed, data_):
    dim = data_.draw(st.integers(-len(shape), len(shape) - 1))
    sizes = data_.draw(st.lists(st.integers(1, 3), min_size=n, max_size=n))
    pieces = [data(seed + i, shape[:dim % len(shape)] + (s,) + shape[dim % len(shape) + 1:])
              for i, s in enumerate(sizes)]
    check_op(lambda *xs: ms.cat(xs, dim=dim), pieces, lambda *xs: torch.cat(xs, dim=dim),
             gradcheck_inputs=False, atol=1e-5)
    same = [data(seed + i, shape) for i in range(n)]
    sdim = data_.draw(st.integers(-len(shape) - 1, len(shape)))
    check_op(lambda *xs: ms.stack(xs, dim=sdim), same, lambda *xs: torch.stack(xs, dim=sdim),
             gradcheck_inputs=False, atol=1e-5)


@examples(100)
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=3, max_side=4), seed=st.integers(0, 2**16))
def test_where_vs_torch(shapes, seed):
    c_shape, a_shape, b_shape = shapes.input_shapes
    cond = np.asarray(np.random.default_rng(seed).random(c_shape) > 0.5)
    check_op(lambda a, b: ms.where(cond, a, b), [data(seed, a_shape), data(seed + 1, b_shape)],
             lambda a, b: torch.where(torch.from_numpy(cond), a, b), gradcheck_inputs=False, atol=1e-5)


@pytest.mark.parametrize("which", ["softmax", "log_softmax"])
@examples(100)
@given(shape=hnp.array_shapes(min_dims=1, max_dims=4, max_side=5), seed=st.integers(0, 2**16),
       scale=st.sampled_from([1.0, 30.0]), data_=st.data())
def test_softmax_vs_torch(which, shape, seed, scale, data_):
    dim = data_.draw(st.integers(-len(shape), len(shape) - 1))
    check_op(getattr(F, which), [data(seed, shape) * np.float32(scale)], getattr(torch, which),
             kwargs=dict(dim=dim), gradcheck_inputs=False, atol=1e-5)


def test_log_softmax_is_finite_where_softmax_underflows():
    x = ms.tensor(np.array([[0.0, 1000.0, -1000.0]], np.float32), requires_grad=True)
    y = F.log_softmax(x, dim=1)
    assert np.all(np.isfinite(y.data))
    np.testing.assert_allclose(y.data, [[-1000.0, 0.0, -2000.0]])


def _logits_at_the_edges_of_exp(dtype, pixels):
    """(2, 6, pixels) logits: ordinary pixels, and pixels whose unshifted sum of e^x is out of
    normalise_exponentials' range or not a number (all below -90; one logit of 60, 89 or 800; +inf;
    all -inf; a nan), besides ordinary pixels with logits whose e^x underflows (-100)."""
    x = np.random.default_rng(5).standard_normal((2, 6, pixels)).astype(dtype)
    x[0, :, 0] = np.linspace(-100, -90, 6)
    x[0, 2, 1], x[0, 3, 2], x[1, 4, 3] = 60, 89, 800
    x[1, 0, 4], x[1, :, 5], x[0, 1, 6] = np.inf, -np.inf, np.nan
    x[1, 1, 7] = -100
    return x


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("pixels", [8, 1 << 16])  # the second from threads.GRAIN on: exp in two halves
def test_softmax_at_the_edges_of_exp_vs_torch(dtype, pixels):
    # softmax exponentiates unshifted logits and shifts only the pixels whose sum needs it: those
    # pixels must still give torch's shifted result (nan where torch gives nan), and without a warning
    x = _logits_at_the_edges_of_exp(dtype, pixels)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours = F.softmax(ms.tensor(x), dim=1).data
    theirs = torch.softmax(torch.from_numpy(x), dim=1).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-37, equal_nan=True)
    assert np.isnan(ours[1, :, 4]).all() and np.isnan(ours[1, :, 5]).all() and np.isnan(ours[0, :, 6]).all()
    np.testing.assert_allclose(ours[0, :, 0], np.exp(x[0, :, 0] - x[0, :, 0].max()) /
                               np.exp(x[0, :, 0] - x[0, :, 0].max()).sum(), rtol=1e-6)


GRADCHECK_CASES = {
    **{name: (fn, [make(3, (2, 3), dtype=np.float64)]) for name, (fn, _, make) in UNARY.items()},
    **{name: (fn, [make(3, (2, 1, 3), dtype=np.float64), make(4, (4, 1), dtype=np.float64)])
       for name, (fn, _, make) in BINARY.items()},
    "matmul": (lambda a, b: a @ b, [data(1, (2, 3, 4), dtype=np.float64), data(2, (4, 2), dtype=np.float64)]),
    "sum": (lambda x: x.sum(dim=1, keepdim=True), [data(1, (2, 3, 2), dtype=np.float64)]),
    "mean": (lambda x: x.mean(dim=(0, 2)), [data(1, (2, 3, 2), dtype=np.float64)]),
    "amax": (lambda x: x.max(dim=-1), [data(1, (2, 3, 4), dtype=np.float64)]),
    "softmax": (lambda x: F.softmax(x, dim=1), [data(1, (2, 4, 3), dtype=np.float64)]),
    "log_softmax": (lambda x: F.log_softmax(x, dim=1), [data(1, (2, 4, 3), dtype=np.float64)]),
    "index": (lambda x: x[1:, ::2] * x[0, 1], [data(1, (3, 4), dtype=np.float64)]),
    "cat": (lambda a, b: ms.cat([a, b], dim=1), [data(1, (2, 1), dtype=np.float64), data(2, (2, 3), dtype=np.float64)]),
    "stack": (lambda a, b: ms.stack([a, b], dim=1), [data(1, (2, 3), dtype=np.float64), data(2, (2, 3), dtype=np.float64)]),
    "where": (lambda a, b: ms.where(np.array([True, False, True]), a, b),
              [data(1, (2, 3), dtype=np.float64), data(2, (3,), dtype=np.float64)]),
    "permute": (lambda x: x.permute(2, 0, 1).reshape(4, -1), [data(1, (2, 3, 2), dtype=np.float64)]),
}


@pytest.mark.parametrize("name", sorted(GRADCHECK_CASES))
def test_gradcheck_float64(name):
    fn, inputs = GRADCHECK_CASES[name]
    assert gradcheck(fn, inputs)


def test_gradcheck_catches_a_wrong_derivative():
    class WrongSquare(ms.Function):
        @staticmethod
        def forward(ctx, a):
            ctx.save_for_backward(a)
            return a * a

        @staticmethod
        def backward(ctx, g):
            return (g * ctx.saved_tensors[0],)  # should be 2 a g

    with pytest.raises(AssertionError, match="gradcheck: input 0"):
        gradcheck(lambda x: WrongSquare.apply(x), [np.array([1.0, 2.0])])


def test_relu_backward_is_zero_where_the_input_is_not_positive_even_for_nan_or_inf_gradients():
    """relu's backward multiplies by the mask (fast); where that gives inf * 0 = nan, torch's 0 is restored."""
    x = np.array([[-1.0, 2.0, 0.0, 3.0, -0.5]], np.float32)
    g = np.array([[np.nan, 1.0, np.inf, -2.0, -np.inf]], np.float32)
    ours = ms.tensor(x, requires_grad=True)
    F.relu(ours).backward(ms.tensor(g))
    theirs = torch.tensor(x, requires_grad=True)
    torch.relu(theirs).backward(torch.tensor(g))
    np.testing.assert_array_equal(np.asarray(ours.grad), theirs.grad.numpy())


@pytest.mark.filterwarnings("error")  # the halves run on a worker thread: no "invalid value" warning from there
def test_relu_in_two_halves_matches_torch_with_nan_and_inf():
    """From threads.GRAIN elements on, relu's mask and products run in two halves at once (threads.in_halves):
    the halves meet in the right places, and nan / inf inputs and gradients give torch's answer."""
    from minseg.threads import GRAIN

    rng = np.random.default_rng(7)
    x = rng.standard_normal((3, GRAIN // 3 + 5)).astype(np.float32)
    x[0, :3] = [np.nan, np.inf, -np.inf]
    g = rng.standard_normal(x.shape).astype(np.float32)
    g[1, :4] = [np.nan, np.inf, -np.inf, np.inf]
    ours = ms.tensor(x, requires_grad=True)
    y = F.relu(ours)
    y.backward(ms.tensor(g))
    theirs = torch.tensor(x, requires_grad=True)
    expected = torch.relu(theirs)
    expected.backward(torch.tensor(g))
    np.testing.assert_array_equal(y.numpy(), expected.detach().numpy())
    np.testing.assert_array_equal(np.asarray(ours.grad), theirs.grad.numpy())
