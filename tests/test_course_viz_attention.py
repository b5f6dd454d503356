"""Lecture 10's attention explorer without a browser: the weights drawn are torch's attention
weights of the SETR twin, the query frame sits on the chosen patch, and the sliders redraw."""
import numpy as np
import pytest
import torch

from minseg import models, tensor
from minseg.reference import interop
from minseg.viz import attention as aviz

TINY = dict(image_size=16, patch_size=4, embed_dim=8, depth=2, num_heads=2, mlp_ratio=2, decoder_width=6)


@pytest.fixture(scope="module")
def scene():
    model = models.SETR(num_classes=3, **TINY).eval()
    image = np.random.default_rng(0).random((3, 16, 16), dtype=np.float32)
    return model, image, [m[0] for m in model.attention_maps(tensor(image[None]))]


def _torch_weights(model, image, layer, head):
    """torch's MultiheadAttention weights in the twin's layer ``layer``, computed there from scratch."""
    twin = interop.torch_twin(model).eval()
    with torch.no_grad():
        x = torch.from_numpy(image[None])
        seq = twin.patch_embed(x).flatten(2).transpose(1, 2) + twin.pos_embed
        for block in twin.layers[:layer]:
            seq = block(seq)
        normed = twin.layers[layer].norm1(seq)
        _, weights = twin.layers[layer].self_attn(normed, normed, normed, average_attn_weights=False)
    return weights[0, head].numpy()


@pytest.mark.parametrize("layer, head, row, col", [(0, 0, 1, 2), (1, 1, 3, 0)])
def test_draw_shows_torchs_attention_of_the_query(scene, layer, head, row, col):
    model, image, maps = scene
    fig = aviz.draw(image, maps, layer=layer, head=head, row=row, col=col)
    shown = np.asarray(fig.axes[1].images[-1].get_array())
    expected = _torch_weights(model, image, layer, head)[row * 4 + col].reshape(4, 4)
    np.testing.assert_allclose(shown, expected, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(shown.sum(), 1.0, rtol=1e-5)  # one query's weights sum to 1
    frame = fig.axes[0].patches[0]
    assert frame.get_xy() == (col * 4 - 0.5, row * 4 - 0.5) and frame.get_width() == 4


def test_static_figure_has_every_layer_and_head(scene):
    _, image, maps = scene
    fig = aviz.draw_heads(image, maps, row=2, col=2)
    assert len(fig.axes) == 2 * 2
    np.testing.assert_allclose(np.asarray(fig.axes[3].images[-1].get_array()),
                               aviz.query_map(maps, 1, 1, 2, 2))
    assert [ax.get_title() for ax in fig.axes] == ["L1 H1", "L1 H2", "L2 H1", "L2 H2"]


def test_widget_sliders_redraw(scene):
    _, image, maps = scene
    widget = aviz.attention_widget(image, maps)
    assert widget.controls["row"].max == 3 and widget.controls["head"].max == 1
    widget.controls["row"].value = 0
    widget.controls["col"].value = 3
    widget.controls["layer"].value = 1
    shown = np.asarray(widget.figure.axes[1].images[-1].get_array())
    np.testing.assert_allclose(shown, np.asarray(maps[1])[0, 3].reshape(4, 4))
    assert "layer 2, head 1" in widget.figure.axes[1].get_title()


def test_non_square_grid_is_refused():
    with pytest.raises(ValueError, match="token grid must be square, got 6 tokens"):
        aviz.draw(np.zeros((3, 12, 12)), [np.zeros((1, 6, 6))])
