"""Training loop, checkpoints, U-Net geometry and overlap-tile inference, mask-head helpers."""
import numpy as np
import pytest

import minseg as ms
from minseg import models
from minseg.data import DigitScenes
from minseg.models.backend import MINSEG
from minseg.training import (InstanceBatches, evaluate, evaluate_masks, fit, instance_loss, load_checkpoint,
                             make_optimizer, median_frequency_weights, presets, save_checkpoint,
                             segmentation_loss)
from minseg.optim import PolyLR


@pytest.fixture(scope="module")
def scenes():
    return DigitScenes(8, size=16, seed=0, digits_per_scene=1, digit_size=(8, 12))


def test_a_tiny_unet_learns_a_few_steps(scenes):
    ms.manual_seed(0)
    model = models.UNet(11, width=4, depth=1)
    history = fit(model, scenes, 12, batch_size=4, optimizer="adam", lr=0.02, progress=False, seed=0)
    assert history["steps"] == 12 and len(history["loss"]) == 12
    assert np.mean(history["loss"][-3:]) < 0.8 * np.mean(history["loss"][:3])
    assert history["lr"][0] == pytest.approx(0.02)
    assert history["lr"][-1] == pytest.approx(0.02 * (1 - 11 / 12) ** 0.9)  # poly schedule


def test_fit_is_seeded(scenes):
    losses = []
    for _ in range(2):
        ms.manual_seed(3)
        model = models.SegNet(11, widths=(4,), convs=(1,))
        losses.append(fit(model, scenes, 3, batch_size=4, progress=False, seed=5)["loss"])
    assert losses[0] == losses[1]


def _step(model, optimizer, schedule, batch):
    optimizer.zero_grad()
    segmentation_loss(model, batch, MINSEG).backward()
    optimizer.step()
    schedule.step()


@pytest.mark.parametrize("kind", ["sgd", "adam"])
def test_checkpoint_round_trip_resumes_training_exactly(tmp_path, scenes, kind):
    path = tmp_path / "model.npz"
    batch = (scenes.images[:4], scenes.masks[:4])
    ms.manual_seed(1)
    model = models.DeepLabV3(11, widths=(4, 4, 4, 4), blocks_per_stage=(1, 1, 1, 1), aspp_width=4,
                             rates=(1, 2, 3), dropout=0.0)
    optimizer = make_optimizer(model, MINSEG, kind, lr=0.05, weight_decay=1e-3)
    schedule = PolyLR(optimizer, 10)
    for _ in range(2):
        _step(model, optimizer, schedule, batch)
    save_checkpoint(path, model, optimizer, schedule, epoch=7)

    ms.manual_seed(2)  # different initial weights, to be overwritten
    fresh = models.create("DeepLabV3", **model.config)
    fresh_optimizer = make_optimizer(fresh, MINSEG, kind, lr=0.05, weight_decay=1e-3)
    fresh_schedule = PolyLR(fresh_optimizer, 10)
    header = load_checkpoint(path, fresh, fresh_optimizer, fresh_schedule)
    assert header["epoch"] == 7 and header["class"] == "DeepLabV3" and header["config"]["aspp_width"] == 4
    assert fresh_optimizer.param_groups[0]["lr"] == optimizer.param_groups[0]["lr"]
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(fresh.state_dict()[key], value, err_msg=key)
    _step(model, optimizer, schedule, batch)  # one more step on both: identical if all state came back
    _step(fresh, fresh_optimizer, fresh_schedule, batch)
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(fresh.state_dict()[key], value, err_msg=key)


def test_checkpoint_refuses_another_model(tmp_path):
    path = tmp_path / "unet.npz"
    save_checkpoint(path, models.UNet(3, width=2, depth=1))
    with np.load(path, allow_pickle=False) as data:  # plain arrays, no pickle needed
        assert "model/head.weight" in data.files
    with pytest.raises(ValueError, match="holds a UNet"):
        load_checkpoint(path, models.SegNet(3, widths=(2,), convs=(1,)))


def test_evaluate_scores_a_model_that_predicts_background(scenes):
    class Background(ms.nn.Module):
        def forward(self, x):
            scores = np.zeros((x.shape[0], 11) + x.shape[2:], np.float32)
            scores[:, 0] = 1
            return ms.tensor(scores)

    result = evaluate(Background(), scenes, batch_size=3)
    background = (scenes.masks == 0).mean()
    assert result["pixel_accuracy"] == pytest.approx(background)
    assert result["iou"][0] == pytest.approx(background)
    present = len(np.unique(scenes.masks))  # the other present classes have IoU 0, absent ones nan
    assert result["mean_iou"] == pytest.approx(background / present)
    assert "mean" in result["summary"]


# ----- U-Net geometry and overlap-tile -----------------------------------------------------------
def test_unpadded_unet_geometry_matches_the_paper():
    net = models.UNet(2, width=1, depth=4, padding=False)
    assert net.output_size((572, 572)) == (388, 388)  # Ronneberger et al., Fig. 1
    assert net.valid_input_size(388) == 572
    with pytest.raises(ValueError, match="not valid for depth 4"):
        net.output_size((570, 570))
    assert models.UNet(2, width=1, depth=4).output_size((64, 48)) == (64, 48)


def test_overlap_tile_equals_direct_inference_on_the_mirrored_image():
    ms.manual_seed(4)
    net = models.UNet(3, width=2, depth=2, padding=False).eval()
    tile = 8  # a multiple of 2^depth: every tile sees the pooling grid of the whole image
    margin = (net.valid_input_size(tile) - tile) // 2
    image = np.random.default_rng(0).random((1, 3, 21, 18), dtype=np.float32)
    tiled = net.predict_tiles(image, tile)
    assert tiled.shape == (1, 3, 21, 18)
    # direct inference on the whole image, mirror-padded the same way (3 x 3 tiles of 8)
    pads = ((0, 0), (0, 0), (margin, margin + 24 - 21), (margin, margin + 24 - 18))
    whole = np.pad(image, pads, mode="reflect")
    with ms.no_grad():
        direct = net(ms.tensor(whole)).data
    assert direct.shape[-2:] == (24, 24)
    np.testing.assert_allclose(tiled, direct[:, :, :21, :18], rtol=1e-5, atol=1e-6)


def test_overlap_tile_at_depth_3_keeps_the_first_tile_rows_of_each_larger_output_tile():
    """From depth 3 on no multiple of 2^depth is a valid output size (depth 3: an input n gives n - 88,
    valid for n = 4 mod 8): a 16-pixel step reads 108 input pixels whose output is 20, 4 more."""
    ms.manual_seed(5)
    net = models.UNet(2, width=2, depth=3, padding=False).eval()
    layout = net.tile_layout((40, 29), 16)
    geometry = (layout.input_tile, layout.output_tile, layout.margin, layout.rows, layout.cols)
    assert geometry == (108, 20, 44, 3, 2)
    image = np.random.default_rng(1).random((1, 3, 40, 29), dtype=np.float32)
    # the whole padded image: 2 more tiles of 16 after the first input tile of 108 rows, 1 more column
    pads = ((0, 0), (0, 0), (44, 108 + 32 - 44 - 40), (44, 108 + 16 - 44 - 29))
    whole = np.pad(image, pads, mode="reflect")
    with ms.no_grad():
        direct = net(ms.tensor(whole)).data
    np.testing.assert_allclose(net.predict_tiles(image, 16), direct[:, :, :40, :29], rtol=1e-5, atol=1e-6)


def test_overlap_tile_rejects_a_tile_off_the_pooling_grid():
    net = models.UNet(3, width=2, depth=2, padding=False)
    with pytest.raises(ValueError, match="tile must be a positive multiple of 2\\^depth = 4"):
        net.predict_tiles(np.zeros((1, 3, 8, 8), np.float32), 6)


# ----- argument checks -------------------------------------------------------------------------------
def test_models_reject_bad_arguments():
    with pytest.raises(ValueError, match="FCN: variant must be one of"):
        models.FCN(3, variant="4s")
    fcn = models.FCN(3, variant="32s", widths=(2, 2, 2), convs=(1, 1, 1), fc_width=2, fc_kernel=1)
    with pytest.raises(ValueError, match="divisible by 8"):
        fcn(ms.tensor(np.zeros((1, 3, 12, 12), np.float32)))
    with pytest.raises(ValueError, match="output_stride must be 8 or 16"):
        models.DeepLabV3(3, output_stride=32)
    with pytest.raises(ValueError, match="need 4 entries"):
        models.DeepLabV3Plus(3, widths=(4, 4, 4))
    with pytest.raises(ValueError, match="pooler must be one of"):
        models.MaskHeadModel(3, pooler="max")
    with pytest.raises(ValueError, match="name must be one of"):
        models.create("ResNet")
    with pytest.raises(ValueError, match="optimizer must be one of"):
        make_optimizer(models.UNet(2, width=2, depth=1), MINSEG, "rmsprop")
    with pytest.raises(ValueError, match="scale must be one of"):
        presets.preset("unet", "huge")


def test_fcn_skip_scores_start_at_zero_and_upsampling_is_bilinear():
    fcn = models.FCN(3, variant="8s", widths=(2, 2, 2), convs=(1, 1, 1), fc_width=2, fc_kernel=1)
    assert not fcn.score_pool4.weight.data.any() and not fcn.score_pool3.weight.data.any()
    # a stride-2 bilinear kernel of size 4 has taps 1/4, 3/4, 3/4, 1/4 (outer product)
    taps = [0.25, 0.75, 0.75, 0.25]
    np.testing.assert_allclose(fcn.upscore2.weight.data[1, 1], np.outer(taps, taps))
    assert not fcn.upscore2.weight.data[1, 0].any()


# ----- mask head helpers ----------------------------------------------------------------------------
def test_mask_targets_of_a_box_filled_by_its_mask_are_all_ones():
    masks = np.zeros((2, 16, 16), bool)
    masks[0, 2:10, 4:12] = True          # fills its box [4, 2, 12, 10]
    masks[1, 0:16, 0:8] = True           # left half of the whole-image box
    rois = np.array([[0, 4, 2, 12, 10], [0, 0, 0, 16, 16]], np.float32)
    targets = models.mask_targets(masks, rois, 4)
    np.testing.assert_array_equal(targets[0], np.ones((4, 4)))
    np.testing.assert_array_equal(targets[1], np.array([[1, 1, 0, 0]] * 4))


def test_paste_masks_and_mask_iou_by_hand():
    rois = np.array([[0, 2, 2, 6, 6], [0, 0, 0, 4, 2]], np.float32)
    probabilities = np.array([np.ones((3, 3)), np.zeros((3, 3))], np.float32)
    pasted = models.paste_masks(probabilities, rois, (8, 8))
    expected = np.zeros((2, 8, 8), bool)
    expected[0, 2:6, 2:6] = True
    np.testing.assert_array_equal(pasted, expected)
    truth = np.zeros((2, 8, 8), bool)
    truth[0, 2:6, 2:4] = True            # 8 of the 16 pasted pixels
    truth[1, 0, 0] = True                # missed entirely
    np.testing.assert_allclose(models.mask_iou(pasted, truth), [0.5, 0.0])


def test_mask_head_learns_a_few_steps():
    ms.manual_seed(0)
    data = DigitScenes(6, size=32, seed=1, digits_per_scene=2)
    model = models.MaskHeadModel(10, width=4, feature_stride=4, resolution=4, head_convs=1)
    history = fit(model, InstanceBatches(data, 8), 10, batch_size=3, optimizer="adam", lr=0.02,
                  loss_fn=instance_loss, progress=False)
    assert np.mean(history["loss"][-3:]) < np.mean(history["loss"][:3])
    scores = evaluate_masks(model, data)
    assert 0.0 <= scores["mask_iou"] <= 1.0
    assert len(scores["ious"]) == sum(len(i["labels"]) for i in data.instances)


def test_reference_training_runs_the_twin_on_the_cpu_without_a_gpu():
    torch = pytest.importorskip("torch")
    from minseg.reference import training

    assert training.use_full_scale(False) is False and training.use_full_scale(True) is True
    model, history, scores = training.train_reference("unet", full_scale=False, device="cpu", train=8, val=4,
                                                      size=16, steps=4, batch_size=4, progress=False)
    assert isinstance(model, torch.nn.Module) and history["steps"] == 4
    assert 0.0 <= scores["mean_iou"] <= 1.0


@pytest.mark.slow
@pytest.mark.parametrize("name", ["fcn8s", "deeplabv3plus"])
def test_full_scale_presets_build_and_take_a_step_on_the_cpu(name):
    # The GPU configuration (chosen automatically when CUDA is present) must at least build and
    # train; this machine has no GPU, so run one tiny step of it on the CPU.
    torch = pytest.importorskip("torch")
    from minseg.reference import training

    model, history, _ = training.train_reference(name, full_scale=True, device="cpu", train=2, val=2,
                                                 size=32, steps=1, batch_size=2, progress=False)
    assert isinstance(model, torch.nn.Module) and history["steps"] == 1
    assert np.isfinite(history["loss"][-1])


def test_median_frequency_weights_by_hand():
    masks = np.array([[[0, 0], [0, 1]], [[0, 0], [2, 2]]])
    # frequencies among images containing the class: 5/8, 1/4, 2/4; median 1/2; class 3 absent
    np.testing.assert_allclose(median_frequency_weights(masks, 4), [0.8, 2.0, 1.0, 1.0])


def test_models_and_training_never_import_torch():
    import subprocess
    import sys

    code = ("import sys, minseg.models, minseg.training, minseg.models.backend; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_center_crop_refuses_a_larger_window():
    from minseg.models.blocks import center_crop

    np.testing.assert_array_equal(center_crop(np.arange(25).reshape(5, 5), (1, 3)), [[11, 12, 13]])
    with pytest.raises(ValueError, match="larger than the input"):
        center_crop(np.zeros((2, 2)), (3, 3))


def test_a_time_budget_stops_training_and_anneals_the_learning_rate(scenes):
    from minseg.training.loop import _anneal_by_time

    model = models.UNet(11, width=2, depth=1)
    history = fit(model, scenes, 50, batch_size=4, lr=0.1, progress=False, time_limit=1e-9)
    assert history["steps"] == 1
    optimizer = make_optimizer(model, MINSEG, "sgd", lr=0.1)
    schedule = PolyLR(optimizer, 10, power=0.9)
    schedule.step()  # 10 % of the steps, but half of the time gone: the time decides
    assert not _anneal_by_time(optimizer, schedule, 0.5)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5 ** 0.9)
    assert _anneal_by_time(optimizer, schedule, 1.0)
