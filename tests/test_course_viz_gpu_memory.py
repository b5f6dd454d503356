"""Lecture 09's memory explorer: counts checked against a model small enough to count by hand, and the
figure's bars against memory_breakdown."""
import numpy as np
import pytest

from minseg.viz import gpu_memory


def test_profile_counts_parameters_and_layer_outputs_of_the_full_size_unet():
    """U-Net width 64 depth 4 (the paper's): 31.04 M parameters with batch norm and an 11-class head;
    its first stage alone outputs 64 values per pixel from each of its 6 leaf layers (2x conv, BN, ReLU)."""
    numbers = gpu_memory.profile("unet")
    assert numbers["parameters"] == 31_038_283
    assert numbers["values_per_pixel"] > 6 * 64


def test_memory_breakdown_by_hand():
    parts = gpu_memory.memory_breakdown(parameters=1000, values_per_pixel=10.0, batch_size=2, size=8,
                                        precision="bf16")
    assert parts == {"weights": 4000, "gradients": 4000, "Adam moments": 8000, "activations": 2 * 10 * 2 * 64}
    assert gpu_memory.memory_breakdown(1000, 10.0, 2, 8, "float32")["activations"] == 4 * 10 * 2 * 64
    with pytest.raises(ValueError, match=r"precision must be one of \('float32', 'bf16'\), got 'fp8'"):
        gpu_memory.memory_breakdown(1, 1.0, 1, 1, "fp8")


def test_draw_stacks_the_parts_and_the_widget_redraws():
    explorer = gpu_memory.MemoryExplorer()
    fig = explorer.draw("deeplabv3plus", batch_size=16, size=256, precision="float32")
    numbers = gpu_memory.profile("deeplabv3plus")
    expected = gpu_memory.memory_breakdown(numbers["parameters"], numbers["values_per_pixel"], 16, 256, "float32")
    widths = [bar.get_width() for bar in fig.axes[0].patches]
    np.testing.assert_allclose(widths, [expected[p] / 1e9 for p in gpu_memory.PARTS])
    assert explorer.last_total == pytest.approx(sum(expected.values()) / 1e9)
    widget = explorer.widget()
    before = widget.figure.axes[0].patches[-1].get_width()
    widget.controls["batch_size"].value = 64
    assert widget.figure.axes[0].patches[-1].get_width() == pytest.approx(2 * before)
