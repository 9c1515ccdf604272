"""Dataset exemplars: a hand-made red-square detector finds the red squares, in order, streaming."""

import weakref

import keras
import numpy as np
import pytest

from kerasviz.dataset import imagesets
from kerasviz.dataset.exemplars import MIN_INSIDE, dataset_exemplars
from kerasviz.errors import KerasvizError

RF = 10  # detect 5x5, then 2x2 average pooling (+1), then a 3x3 at stride 2 (+4)


def detector() -> keras.Model:
    """'units' channel 0 = mean redness R - (G + B) / 2 near a position, channel 1 = greenness; linear.

    Grey pixels give exactly 0, so only coloured squares respond, in proportion to their colour.
    """
    inputs = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(2, 5, padding="same", name="detect")(inputs)
    x = keras.layers.AveragePooling2D(2, name="pool")(x)
    x = keras.layers.Conv2D(2, 3, padding="same", name="units")(x)
    model = keras.Model(inputs, x)
    colour = np.zeros((5, 5, 3, 2), np.float32)
    colour[:, :, :, 0] = np.array([1.0, -0.5, -0.5]) / 25
    colour[:, :, :, 1] = np.array([-0.5, 1.0, -0.5]) / 25
    model.get_layer("detect").set_weights([colour, np.zeros(2, np.float32)])
    average = np.zeros((3, 3, 2, 2), np.float32)
    average[:, :, 0, 0] = average[:, :, 1, 1] = 1 / 9
    model.get_layer("units").set_weights([average, np.zeros(2, np.float32)])
    return model


def scene(rng, shape=(40, 40), square=None, colour=(0, 0, 0), side=6):
    """Grey noise (equal channels), with a `side` square of `colour` whose top-left corner is `square`."""
    grey = rng.uniform(60, 200, shape)
    image = np.repeat(grey[..., None], 3, axis=-1)
    if square is not None:
        image[square[0]:square[0] + side, square[1]:square[1] + side] = colour
    return image.astype(np.uint8)


def inside(square, side, box):
    top, left, bottom, right = box
    return top <= square[0] and left <= square[1] and square[0] + side <= bottom and square[1] + side <= right


def test_red_and_green_squares_are_found_in_order_with_their_boxes():
    rng = np.random.default_rng(0)
    reds = {2: ((5, 7), 250), 5: ((28, 20), 220), 9: ((14, 30), 190), 11: ((30, 2), 160)}
    greens = {3: ((10, 10), 240), 7: ((20, 25), 200)}
    images, squares = [], {}
    for i in range(12):
        shape = (40, 40) if i % 3 else (36, 48)  # two shapes: batches split where the shape changes
        if i in reds:
            (corner, r) = reds[i]
            images.append((f"img{i}", scene(rng, shape, corner, (r, 0, 0))))
            squares[f"img{i}"] = corner
        elif i in greens:
            (corner, g) = greens[i]
            images.append((f"img{i}", scene(rng, shape, corner, (0, g, 0))))
            squares[f"img{i}"] = corner
        else:
            images.append((f"img{i}", scene(rng, shape)))
    red, green = dataset_exemplars(detector(), "units", [0, 1], images, top=3, batch_size=4, size=None)
    assert [e.image for e in red] == ["img2", "img5", "img9"]
    assert [e.image for e in green[:2]] == ["img3", "img7"]
    assert red[0].activation > red[1].activation > red[2].activation > 0
    assert green[2].activation < 1e-3 * green[1].activation  # the third best has no green square: about 0
    for exemplar in red + green[:2]:
        assert inside(squares[exemplar.image], 6, exemplar.box), (exemplar.image, exemplar.box)
        assert exemplar.patch.shape == (RF, RF, 3)
        top, left, bottom, right = exemplar.box
        assert bottom - top <= RF and right - left <= RF
    # The patch is the image inside the box: its red pixels are the square's.
    assert (red[0].patch[..., 0] == 250).sum() == 36


def test_boxes_are_in_the_original_images_pixels_when_images_are_resized():
    rng = np.random.default_rng(1)
    big = scene(rng, (80, 120), (40, 60), (255, 0, 0), side=12)
    [[best]] = dataset_exemplars(detector(), "units", [0], [big, scene(rng, (80, 120))], top=1, size=60)
    assert best.image == "0"
    assert inside((40, 60), 12, best.box)
    top, left, bottom, right = best.box
    assert bottom - top <= 2 * RF + 1 and right - left <= 2 * RF + 1  # the seen field (10 px) at twice the scale


def test_images_are_streamed_once_and_not_held():
    rng = np.random.default_rng(2)
    alive, yielded = [], []

    def images():
        for i in range(40):
            picture = scene(rng, square=(4, 4) if i == 33 else None, colour=(255, 0, 0))
            yielded.append(sum(ref() is not None for ref in alive))  # earlier images still held (refcounts)
            alive.append(weakref.ref(picture))
            yield picture
            del picture

    stream = images()
    [[best, *_]] = dataset_exemplars(detector(), "units", [0], stream, top=5, batch_size=4, size=None)
    assert best.image == "33"
    assert len(yielded) == 40 and next(stream, None) is None  # read once, to the end
    assert max(yielded) <= 4, yielded  # at most one batch of images alive at any time


def test_a_folder_is_read_by_file_name(tmp_path):
    import imageio.v3 as iio

    rng = np.random.default_rng(3)
    iio.imwrite(tmp_path / "b_red.png", scene(rng, square=(20, 20), colour=(255, 0, 0)))
    iio.imwrite(tmp_path / "a_grey.png", scene(rng))
    (tmp_path / "notes.txt").write_text("not an image")
    [[best, second]] = dataset_exemplars(detector(), "units", [0], str(tmp_path), top=2, size=None)
    assert (best.image, second.image) == ("b_red.png", "a_grey.png")
    assert inside((20, 20), 6, best.box)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(top=0), r"top of dataset exemplars must be in 1\.\.; got 0"),
        (dict(top=True), "top of dataset exemplars must be int; got True"),
        (dict(size=4), r"size of dataset exemplars must be in 8\.\.; got 4"),
        (dict(steps=5), "option 'steps' does not apply to dataset exemplars; valid: top, size, batch_size"),
        (dict(layer="unit"), "layer 'unit' not in"),
        (dict(filters=[2]), "filter 2 out of range for units: valid filters are 0-1"),
        (dict(images=[]), "no images given"),
        (dict(batch_size=0), r"batch_size of dataset exemplars must be in 1\.\.; got 0"),
        (dict(images=[np.zeros((1, 1, 3))], size=None), "image '0' seen at 1x1 pixels is too small for layer 'units'"),
        (dict(filters=[]), "no filters given for units: valid filters are 0-1"),
    ],
)
def test_bad_input_says_what_is_valid(kwargs, message):
    args = dict(layer="units", filters=[0], images=[np.zeros((20, 20, 3), np.uint8)])
    args.update(kwargs)
    with pytest.raises(KerasvizError, match=message):
        dataset_exemplars(detector(), args.pop("layer"), args.pop("filters"), args.pop("images"), **args)


def test_an_empty_folder_is_an_error(tmp_path):
    (tmp_path / "readme.txt").write_text("x")
    with pytest.raises(KerasvizError, match="has no images"):
        imagesets.image_files(str(tmp_path))


def test_positions_mostly_in_the_padding_are_not_exemplars():
    # A centre-minus-surround unit fires hardest at the border, where the zero padding starts.
    inputs = keras.Input((None, None, 3))
    model = keras.Model(inputs, keras.layers.Conv2D(1, 5, padding="same", name="units")(inputs))
    kernel = np.full((5, 5, 3, 1), -1 / 75, np.float32)
    kernel[2, 2, :, 0] += 1 / 3
    model.get_layer("units").set_weights([kernel, np.zeros(1, np.float32)])
    rng = np.random.default_rng(0)
    image = rng.uniform(120, 136, (30, 30, 3)).astype(np.uint8)
    activations = keras.ops.convert_to_numpy(model(image[None].astype(np.float32)))[0, ..., 0]
    assert np.unravel_index(activations.argmax(), activations.shape) in {(0, 0), (0, 29), (29, 0), (29, 29)}
    (found,), = dataset_exemplars(model, "units", [0], [image], top=1, size=None)
    top, left, bottom, right = found.box
    assert (bottom - top) * (right - left) >= MIN_INSIDE * found.patch.shape[0] ** 2


def test_the_job_takes_options_and_records_them(tmp_path):
    import json

    from kerasviz.apps import exemplars as exemplars_app
    from kerasviz.dataset.exemplars import ExemplarOptions

    rng = np.random.default_rng(3)
    images = [(f"img{i}", scene(rng, square=(5, 5), colour=(200 + 10 * i, 0, 0))) for i in range(3)]
    options = ExemplarOptions(top=2, batch_size=2)
    facts = exemplars_app.run("units", [0], images, str(tmp_path), model=detector(), options=options, size=None,
                              synthetic=False, stem="units")
    with open(tmp_path / "units.json") as f:
        saved = json.load(f)
    assert saved["options"] == {"top": 2, "size": None, "batch_size": 2} == facts["options"]
    assert saved["top"] == 2 and saved["size"] is None and saved["images_seen"] == 3
    assert [p["image"] for p in saved["exemplars"][0]["patches"]] == ["img2", "img1"]
    with pytest.raises(KerasvizError, match="option 'method' does not apply to dataset exemplars"):
        exemplars_app.run("units", [0], images, str(tmp_path), model=detector(), method="fft", overwrite=True)
    with pytest.raises(KerasvizError, match="options for dataset exemplars are ExemplarOptions, not dict"):
        exemplars_app.run("units", [0], images, str(tmp_path), model=detector(), options={"top": 2})
