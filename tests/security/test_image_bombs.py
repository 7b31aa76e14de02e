"""An image's pixel count is checked from its header before anything is decoded; every decoder failure is a typed
one-line ImageError; the CLI reports each bad file and goes on."""

from __future__ import annotations

import numpy as np
import pytest

from simplecnn.inference.predict import ImageError, ImageTooLarge, read_image
from tests.support.hostile import costs_in_child, digit_png, float_tiff, png_of_zeros

SETUP = "from simplecnn.inference.predict import read_image\nimport numpy, PIL.Image, PIL.PngImagePlugin"
BOMBS = {
    "20000x10000": (20_000, 10_000, "L"),  # over PIL's own limit: DecompressionBombError
    "99000000x1": (99_000_000, 1, "L"),
    "99-megapixel-rgba": (9_950, 9_950, "RGBA"),  # 385 KB
}


@pytest.fixture(scope="module")
def bombs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("images")
    paths = {}
    for name, (w, h, mode) in BOMBS.items():
        paths[name] = folder / f"{name}.png"
        paths[name].write_bytes(png_of_zeros(w, h, mode))
    return paths


def test_decompression_bombs_are_refused_before_decoding(bombs, tmp_path):
    for path in bombs.values():
        with pytest.raises(ImageTooLarge, match="image too large"):
            read_image(path.read_bytes())
    largest = tmp_path / "largest.png"
    largest.write_bytes(png_of_zeros(4000, 3000, "RGBA"))  # 12 megapixels: the most it decodes whole
    bodies = [f"read_image('{path}')" for path in bombs.values()]
    results = costs_in_child(SETUP, *bodies, f"assert read_image('{largest}').shape == (768, 1024, 4)")
    for outcome, growth in results[:-1]:
        assert outcome.startswith("ImageTooLarge: image too large"), outcome
        assert growth < 30, f"refusing it took {growth:.0f} MB"
    outcome, growth = results[-1]
    assert outcome == "ok" and growth < 150, (outcome, f"decoding the largest accepted image took {growth:.0f} MB")


@pytest.mark.parametrize(
    "data",
    [
        float_tiff(),  # a float TIFF renamed .png: read by its content, scaled to [0, 1]
        digit_png(np.eye(28, dtype=np.float32)),
    ],
)
def test_odd_but_real_images_are_read_as_finite_pixels(data):
    pixels = read_image(data)
    assert pixels.ndim in (2, 3) and np.isfinite(pixels.astype(np.float32)).all()


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n" + b"\0" * 100,
        png_of_zeros(64, 64)[:-30],  # truncated
        b"GIF89a" + b"\xff" * 50,
        b"II*\x00" + b"\x00" * 20,  # a TIFF header and nothing else
        b"\xff\xd8\xff" + b"\x00" * 40,  # a JPEG start and nothing else
    ],
)
def test_every_decoder_failure_is_an_image_error(data):
    with pytest.raises(ImageError) as err:
        read_image(data)
    assert "\n" not in str(err.value)


def test_predict_reads_the_good_files_around_a_bomb_and_exits_1(tmp_path, bombs, mnist, capsys):
    from simplecnn.cli import main

    good = []
    for i in range(2):
        good.append(tmp_path / f"digit{i}.png")
        good[-1].write_bytes(digit_png(mnist.test_pixels[i, 0].float().div(255).numpy()))
    files = [str(good[0]), str(bombs["20000x10000"]), str(bombs["99-megapixel-rgba"]), str(good[1])]
    capsys.readouterr()
    code = main(["predict", *files])  # in this process: the refusals' memory is test_decompression_bombs_…'s
    out, err = capsys.readouterr()
    assert code == 1, err
    lines = out.strip().splitlines()
    assert len(lines) == 4 and "Traceback" not in out + err
    for line, path, label in zip([lines[0], lines[3]], good, mnist.test_y[:2].tolist(), strict=True):
        assert line.startswith(f"{path}: {label} (") or "best guess" in line, line
    assert "image too large" in lines[1] and "image too large" in lines[2]
