"""DigitScenes: layout, determinism, label/instance consistency, colour edges = label edges, the
disjoint train/val split, batching, bad input; and the sample photo loader."""
import numpy as np
import pytest
from scipy import ndimage

from minseg.data import CLASSES, SAMPLE_PHOTOS, DigitScenes, digit_samples, make_digit_scenes, sample_photo


@pytest.fixture(scope="module")
def scenes():
    return DigitScenes(40, size=48, seed=3)


def test_layout_dtypes_and_ranges(scenes):
    assert scenes.images.shape == (40, 3, 48, 48) and scenes.images.dtype == np.float32
    assert scenes.masks.shape == (40, 48, 48) and scenes.masks.dtype == np.int64
    assert 0.0 <= scenes.images.min() and scenes.images.max() <= 1.0
    assert scenes.masks.min() >= 0 and scenes.masks.max() < len(CLASSES) == 11
    assert CLASSES[0] == "background" and CLASSES[1] == "0" and CLASSES[10] == "9"
    image, mask = scenes[5]
    assert image.shape == (3, 48, 48) and mask.shape == (48, 48) and len(scenes) == 40
    assert len(scenes.instances) == 40
    counts = [len(inst["labels"]) for inst in scenes.instances]
    assert min(counts) >= 1 and max(counts) <= 4 and np.mean(counts) > 1.5


def test_same_seed_same_scenes_other_seed_or_split_other_scenes():
    a = make_digit_scenes(5, size=32, seed=7)
    b = make_digit_scenes(5, size=32, seed=7)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    for x, y in zip(a[2], b[2]):
        np.testing.assert_array_equal(x["boxes"], y["boxes"])
    assert not np.array_equal(a[1], make_digit_scenes(5, size=32, seed=8)[1])
    assert not np.array_equal(a[1], make_digit_scenes(5, size=32, seed=7, split="val")[1])


def test_instances_are_consistent_with_the_semantic_mask(scenes):
    for mask, inst in zip(scenes.masks, scenes.instances):
        k = len(inst["labels"])
        assert inst["masks"].shape == (k, 48, 48) and inst["masks"].dtype == bool
        assert inst["boxes"].shape == (k, 4) and inst["labels"].dtype == np.int64
        assert (inst["masks"].sum(0) <= 1).all()  # disjoint
        for c in range(11):  # the union of the instance masks of class c is exactly class c
            union = inst["masks"][inst["labels"] == c].any(0) if c > 0 else ~inst["masks"].any(0)
            np.testing.assert_array_equal(union, mask == c)
        for box, m in zip(inst["boxes"], inst["masks"]):
            x1, y1, x2, y2 = box.astype(int)
            rows, cols = np.flatnonzero(m.any(1)), np.flatnonzero(m.any(0))
            assert (x1, y1, x2, y2) == (cols[0], rows[0], cols[-1] + 1, rows[-1] + 1)
            assert m[y1:y2, x1:x2].sum() == m.sum()


def test_digits_do_not_touch_each_other(scenes):
    for inst in scenes.instances:
        for i, m in enumerate(inst["masks"]):
            grown = ndimage.binary_dilation(m)  # 4-neighbours
            others = np.delete(inst["masks"], i, axis=0).any(0)  # all False when alone
            assert not (grown & others).any()


def test_colour_edges_are_label_edges():
    images, masks, instances = make_digit_scenes(10, size=40, seed=1, noise=0.0)
    for image, inst in zip(images, instances):
        for m in inst["masks"]:
            colours = image[:, m]
            assert np.ptp(colours, axis=1).max() == 0.0  # one flat colour per digit
            ring = ndimage.binary_dilation(m) & ~m  # background pixels next to the digit
            distance = np.linalg.norm(image[:, ring] - colours[:, :1], axis=0)
            assert distance.min() > 0.1


def test_sizes_from_32_to_256_and_digit_counts():
    for size in (32, 256):
        images, masks, instances = make_digit_scenes(2, size=size, seed=0, digits_per_scene=3)
        assert images.shape == (2, 3, size, size)
        assert all(len(inst["labels"]) == 3 for inst in instances)
    _, masks, instances = make_digit_scenes(3, size=32, digits_per_scene=0)
    assert masks.max() == 0 and all(len(i["labels"]) == 0 for i in instances)
    assert instances[0]["masks"].shape == (0, 32, 32) and instances[0]["boxes"].shape == (0, 4)


def test_train_and_val_use_disjoint_digit_samples():
    from sklearn.datasets import load_digits

    train, train_digits = digit_samples("train")
    val, _ = digit_samples("val")
    assert len(train) + len(val) == 1797 and len(val) == 359
    everything = np.concatenate([train, val]).reshape(1797, 64)
    original = (load_digits().images / 16.0).reshape(1797, 64)
    assert sorted(map(bytes, (everything * 16).round().astype(np.uint8))) == \
        sorted(map(bytes, (original * 16).round().astype(np.uint8)))
    assert set(np.unique(train_digits)) == set(range(10))


def test_batches_cover_everything_once_and_are_deterministic(scenes):
    seen = np.concatenate([masks for _, masks in scenes.batches(16, shuffle=True, seed=4)])
    assert len(seen) == 40
    assert sorted(map(bytes, seen)) == sorted(map(bytes, scenes.masks))
    first = next(scenes.batches(16, shuffle=True, seed=4))[1]
    np.testing.assert_array_equal(first, seen[:16])
    assert [len(b[0]) for b in scenes.batches(16, shuffle=False, drop_last=True)] == [16, 16]
    np.testing.assert_array_equal(next(scenes.batches(8, shuffle=False))[0], scenes.images[:8])


@pytest.mark.parametrize("kwargs, message", [
    ({"n": -1}, "n must be an int >= 0"),
    ({"n": 2, "size": 8}, "size must be an int >= 16"),
    ({"n": 2, "split": "test"}, "split must be 'train' or 'val'"),
    ({"n": 2, "digits_per_scene": (3, 1)}, "digits_per_scene must be"),
    ({"n": 2, "digit_size": (4, 100)}, "digit_size must be"),
    ({"n": 2, "noise": -0.1}, "noise must be"),
])
def test_bad_arguments_name_themselves(kwargs, message):
    with pytest.raises(ValueError, match=f"DigitScenes: {message}"):
        DigitScenes(**kwargs)


def test_sample_photos_ship_offline_and_load_as_chw_floats():
    for name in SAMPLE_PHOTOS:
        photo = sample_photo(name)
        assert photo.ndim == 3 and photo.shape[0] == 3 and photo.dtype == np.float32
        assert 0.0 <= photo.min() and photo.max() <= 1.0
    small = sample_photo("camera", size=(32, 48))
    assert small.shape == (3, 32, 48)
    np.testing.assert_array_equal(small[0], small[2])  # grey photo: three equal channels
    with pytest.raises(ValueError, match="sample_photo: name must be one of"):
        sample_photo("lena")
    with pytest.raises(ValueError, match="sample_photo: size must be"):
        sample_photo("camera", size=(0, 3))
