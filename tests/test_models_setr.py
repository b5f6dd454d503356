"""SETR against its PyTorch twin (built from the same source on torch.nn): equal logits and
parameter gradients both decoders, torch weights into minseg in eval mode, the positional
embedding's interpolation for a larger input, and the attention maps."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from minseg import models, tensor  # noqa: E402
from minseg.reference import interop  # noqa: E402
from tests.test_models_twins import _compare, _close  # noqa: E402

TINY = dict(image_size=16, patch_size=4, embed_dim=8, depth=2, num_heads=2, mlp_ratio=2, decoder_width=6)


@pytest.mark.parametrize("decoder", ["naive", "pup"])
def test_setr_twin_equal_logits_and_gradients(decoder):
    """Training mode: equal logits and batch-norm statistics. Gradients in eval mode: in training,
    the decoder's batch norm cancels any constant shift of the encoder's features, so the final
    LayerNorm's bias gets a gradient of pure rounding noise (~1e-6 in float32) in both libraries."""
    x = np.random.default_rng(1).random((2, 3, 16, 16), dtype=np.float32)
    model = models.create("SETR", num_classes=5, decoder=decoder, **TINY)
    _compare(model, interop.torch_twin(model), x, seed=2, rtol=1e-4, gradients=False)
    model.eval()
    _compare(model, interop.torch_twin(model), x, seed=2, rtol=1e-4)
    model = models.create("SETR", num_classes=5, decoder=decoder, **TINY).double().eval()
    _compare(model, interop.torch_twin(model), x.astype(np.float64), seed=2, rtol=1e-7)


@pytest.mark.parametrize("decoder", ["naive", "pup"])
def test_setr_torch_weights_into_minseg_eval_and_larger_input(decoder):
    from minseg.reference.models import create

    torch.manual_seed(0)
    twin = create("SETR", num_classes=5, decoder=decoder, **TINY).eval()
    model = interop.minseg_twin(twin)
    for size in (16, 24):  # 24: the 4x4 position table interpolated to 6x6
        x = np.random.default_rng(3).random((1, 3, size, size), dtype=np.float32)
        with torch.no_grad():
            expected = twin(torch.from_numpy(x)).numpy()
        out = model(tensor(x)).data
        assert out.shape == (1, 5, size, size)
        _close(out, expected, f"eval logits at {size}")


def test_setr_position_embedding_interpolation_keeps_the_table_at_its_own_size():
    model = models.SETR(num_classes=3, **TINY)
    assert model.position_embedding((4, 4)) is model.pos_embed
    table = model.pos_embed.data.reshape(4, 4, 8)
    bigger = model.position_embedding((8, 8)).data.reshape(8, 8, 8)
    # bilinear x2 with align_corners=False: output (1, 1) sits at input (0.25, 0.25)
    expected = (0.75 * 0.75 * table[0, 0] + 0.75 * 0.25 * (table[0, 1] + table[1, 0])
                + 0.25 * 0.25 * table[1, 1])
    np.testing.assert_allclose(bigger[1, 1], expected, rtol=1e-5)


def test_setr_attention_maps_rows_sum_to_one():
    model = models.SETR(num_classes=3, **TINY)
    maps = model.attention_maps(tensor(np.random.default_rng(0).random((1, 3, 16, 16), dtype=np.float32)))
    assert len(maps) == 2 and maps[0].shape == (1, 2, 16, 16)
    np.testing.assert_allclose(maps[1].sum(-1), 1.0, rtol=1e-5)


def test_setr_bad_config():
    with pytest.raises(ValueError, match=r"image_size \(30\) must be divisible by patch_size \(8\)"):
        models.SETR(image_size=30)
    with pytest.raises(ValueError, match="patch_size must be a power of 2"):
        models.SETR(image_size=36, patch_size=6, decoder="pup")
    with pytest.raises(ValueError, match="must be divisible by patch_size 8"):
        models.SETR()(tensor(np.zeros((1, 3, 20, 20), np.float32)))
