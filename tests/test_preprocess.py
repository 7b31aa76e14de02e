import numpy as np
import pytest
import torch

from simplecnn.data import MNIST_MEAN, MNIST_STD, normalize
from simplecnn.inference.preprocess import BlankImageError, ImageError, ink_map, preprocess, to_mnist_pixels


def _stroke_canvas(size=280, top=40, left=30, height=120, width=12):
    """White-on-black float mask of a bar (2 px wide at the 20 px scale, as MNIST's strokes), placed off-centre."""
    mask = np.zeros((size, size), dtype=np.float32)
    mask[top : top + height, left : left + width] = 1.0
    return mask


def encodings(mask):
    """The same drawing as light-on-dark L, dark-on-light RGB, and ink only in the alpha channel."""
    u8 = (mask * 255).astype(np.uint8)
    light_on_dark = u8
    dark_on_light = np.stack([255 - u8] * 3, axis=-1)
    alpha_only = np.zeros(mask.shape + (4,), dtype=np.uint8)
    alpha_only[..., 3] = u8
    return [light_on_dark, dark_on_light, alpha_only]


def test_normalization_constants_shared():
    x = normalize(torch.tensor([0, 255], dtype=torch.uint8))
    assert torch.allclose(x, torch.tensor([-MNIST_MEAN / MNIST_STD, (1 - MNIST_MEAN) / MNIST_STD]))


def test_bar_is_scaled_to_20px_and_centred_by_mass():
    pixels = to_mnist_pixels(_stroke_canvas())
    rows, cols = np.nonzero(pixels > 0)
    assert rows.max() - rows.min() + 1 == 20  # longer side 20 px
    assert cols.max() - cols.min() + 1 == 2  # 12/120 of 20 keeps the aspect ratio
    total = pixels.sum()
    cy = (np.arange(28)[:, None] * pixels).sum() / total
    cx = (np.arange(28)[None, :] * pixels).sum() / total
    assert abs(cy - 14) <= 0.501 and abs(cx - 14) <= 0.501  # where MNIST puts it, to the nearest pixel


def test_three_encodings_give_the_same_input():
    outs = [preprocess(img) for img in encodings(_stroke_canvas())]
    assert all(o.shape == (1, 1, 28, 28) and o.dtype == torch.float32 for o in outs)
    assert torch.allclose(outs[0], outs[1], atol=1e-5)
    assert torch.allclose(outs[0], outs[2], atol=1e-5)


def test_position_and_size_do_not_matter():
    small = to_mnist_pixels(_stroke_canvas(top=200, left=220, height=40, width=4))
    large = to_mnist_pixels(_stroke_canvas(top=10, left=10, height=240, width=24))
    assert np.abs(small - large).max() < 0.05


def test_real_mnist_digit_is_nearly_unchanged(mnist):
    from simplecnn.data import denormalize

    test_x = mnist.subset(0, 20).test_x
    for i in range(20):
        original = denormalize(test_x[i, 0]).numpy()
        processed = to_mnist_pixels((original * 255).astype(np.uint8))
        corr = np.corrcoef(original.ravel(), processed.ravel())[0, 1]
        assert corr > 0.85, (i, corr)


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((280, 280), np.uint8),
        np.full((50, 60, 3), 255, np.uint8),
        np.full((10, 10, 4), 128, np.uint8),
        np.zeros((280, 280, 4), np.uint8),
    ],
)
def test_blank_is_reported_not_guessed(image):
    with pytest.raises(BlankImageError):
        preprocess(image)


@pytest.mark.parametrize(
    "image",
    [np.zeros((0, 5)), np.zeros((3, 3, 7)), np.zeros((2, 2, 2, 2)), np.array([[np.nan, 1.0]]), np.array([["a"]])],
)
def test_bad_arrays_get_typed_errors(image):
    with pytest.raises(ImageError):
        preprocess(image)


def test_ink_map_polarity_from_background():
    img = np.full((40, 40), 200, np.uint8)
    img[10:30, 18:22] = 20
    ink = ink_map(img)
    assert ink[0, 0] == 0 and ink[20, 20] > 0.6


def test_huge_image_is_reduced_fast():
    import time

    big = np.zeros((4000, 4000), np.uint8)
    big[500:3500, 1800:2300] = 255
    start = time.perf_counter()
    out = preprocess(big)
    assert out.shape == (1, 1, 28, 28)
    assert time.perf_counter() - start < 5  # generous: a sanity bound, the benchmark measures speed


def _frame_touched(pixels):
    return bool(pixels[0].any() or pixels[-1].any() or pixels[:, 0].any() or pixels[:, -1].any())


@pytest.mark.parametrize(
    "strokes",
    [
        [[(0.25, 0.2), (0.5, 0.2), (0.75, 0.2), (0.62, 0.5), (0.5, 0.85)]],  # the 7 whose foot reached the last row
        [[(0.1, 0.05), (0.9, 0.05)], [(0.5, 0.05), (0.5, 0.95)]],  # a T: all the weight at the top
        [[(0.5, 0.05), (0.5, 0.95)], [(0.1, 0.95), (0.9, 0.95)]],  # an upside-down T: weight at the bottom
        [[(0.05, 0.1), (0.05, 0.9)], [(0.05, 0.5), (0.95, 0.5)]],  # wide, weight on the left
        [[(0.95, 0.1), (0.95, 0.9)], [(0.05, 0.5), (0.95, 0.5)]],  # wide, weight on the right
        [[(0.02, 0.5), (0.98, 0.5)]],  # one wide stroke
        [[(0.5, 0.02), (0.5, 0.98)]],  # one tall stroke
    ],
)
@pytest.mark.parametrize("width", [6, 20, 40])
def test_the_28px_view_keeps_all_ink_inside_the_frame(strokes, width):
    from simplecnn.inference.preprocess import preprocess_stages
    from simplecnn.inference.synthetic import render_strokes

    stages = preprocess_stages(render_strokes(strokes, width))
    assert not _frame_touched(stages.pixels)  # a 1 px empty border all round
    assert np.isclose(stages.pixels.sum(), stages.box.sum(), rtol=1e-5)  # every bit of the box is placed
    assert stages.box.shape[0] == 20 or stages.box.shape[1] == 20


def test_mnist_centring_is_kept_when_the_frame_allows_it():
    from simplecnn.inference.preprocess import preprocess_stages

    stages = preprocess_stages(_stroke_canvas(height=120, width=120))  # a square: centre of mass in the middle
    assert (stages.top, stages.left) == (5, 5)  # floor(14 - 9.5 + 0.5), unclipped


def _seven(width: float) -> np.ndarray:
    from simplecnn.inference.synthetic import render_strokes

    strokes = [[(0.25, 0.2), (0.5, 0.2), (0.75, 0.2), (0.62, 0.5), (0.5, 0.85)]]
    return render_strokes(strokes, width).astype(np.float32) / 255  # ink in [0, 1]


def test_marker_and_hairline_strokes_come_out_as_wide_as_mnist_strokes():
    from simplecnn.inference.preprocess import WIDTH_RANGE, stroke_width

    widths = {width: stroke_width(to_mnist_pixels(_seven(width))) for width in (1, 2, 20, 60)}
    assert all(WIDTH_RANGE[0] <= w <= WIDTH_RANGE[1] + 0.3 for w in widths.values()), widths  # hairline .. marker
    assert widths[60] < 2 * widths[2]  # unnormalised, a 60 px pen gives strokes about 5x as wide as a 2 px one


def test_an_unevenly_lit_photo_reads_like_a_clean_drawing():
    ink = _seven(14)
    h, w = ink.shape
    light = 0.55 + 0.4 * np.linspace(0, 1, w)[None, :] + 0.1 * np.linspace(0, 1, h)[:, None]  # a shadow on one side
    rng = np.random.default_rng(0)
    photo = np.clip(light * (1 - 0.6 * ink) + rng.normal(0, 0.01, ink.shape), 0, 1)
    photo[rng.random(ink.shape) < 0.0005] = 0.2  # specks of dust
    clean = to_mnist_pixels((ink * 255).astype(np.uint8))
    assert np.abs(to_mnist_pixels((photo * 255).astype(np.uint8)) - clean).mean() < 0.025


def test_a_small_scan_enlarged_with_the_digit_filling_the_frame_is_not_blank():
    """An 8×8 scan of a 0 (16 grey levels, as old scanners kept digits) enlarged to a canvas: ink on the
    border and on a good part of the picture, which once made the whole picture look like paper."""
    from PIL import Image

    zero = np.array(
        [[0, 0, 5, 13, 9, 1, 0, 0], [0, 0, 13, 15, 10, 15, 5, 0], [0, 3, 15, 2, 0, 11, 8, 0],
         [0, 4, 12, 0, 0, 8, 8, 0], [0, 5, 8, 0, 0, 9, 8, 0], [0, 4, 11, 0, 1, 12, 7, 0],
         [0, 2, 14, 5, 10, 12, 0, 0], [0, 0, 6, 13, 10, 0, 0, 0]], dtype=np.float32,
    )  # fmt: skip
    frame = zero[:, 1:7]  # the scan's box: the digit touches every side
    big = Image.fromarray((frame / 16 * 255).astype(np.uint8)).resize((280, 280), Image.Resampling.BICUBIC)
    for image in (np.asarray(big), 255 - np.asarray(big)):  # light on dark, dark on light
        pixels = to_mnist_pixels(image)
        assert pixels.max() == 1.0 and pixels[14, 14] < 0.3  # the ring is ink, its hole is not
