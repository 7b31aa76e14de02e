"""Property tests: any array the canvas or an upload can give → a valid input or a typed error;
any bytes given as a checkpoint → a checkpoint or a typed error."""

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from simplecnn.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from simplecnn.data import denormalize
from simplecnn.inference.preprocess import ImageError, preprocess
from simplecnn.inference.synthetic import ENCODINGS, encode
from simplecnn.model import SimpleCNN

DTYPES = st.sampled_from([np.uint8, np.uint16, np.int32, np.int64, np.float32, np.float64, np.bool_])


@st.composite
def images(draw):
    h = draw(st.integers(0, 4000))
    w = draw(st.integers(0, 4000 if h * 4000 <= 2_000_000 else max(1, 2_000_000 // max(h, 1))))
    channels = draw(st.sampled_from([None, 1, 2, 3, 4, 5]))
    shape = (h, w) if channels is None else (h, w, channels)
    dtype = draw(DTYPES)
    if h * w > 4096:  # large: a cheap structured fill, not element-by-element generation
        fill = draw(st.sampled_from(["zeros", "stroke", "noise"]))
        arr = np.zeros(shape, dtype=dtype)
        if fill == "stroke":
            arr[h // 4 : h // 2, w // 3 : w // 2] = 1 if dtype == np.bool_ else 200
        elif fill == "noise":
            arr = np.random.default_rng(draw(st.integers(0, 99))).integers(0, 255, shape).astype(dtype)
        return arr
    elements = None
    if np.dtype(dtype).kind == "f":
        elements = st.one_of(st.floats(-1e6, 1e6, width=32), st.sampled_from([np.nan, np.inf, -np.inf]))
    return draw(hnp.arrays(dtype, shape, elements=elements))


@st.composite
def drawings(draw):
    """Arrays that are plainly a drawing: a plain background, one rectangle of clear ink not touching the edge,
    in any of the three encodings and as integers or floats. Preprocessing must accept every one."""
    h, w = draw(st.integers(3, 600)), draw(st.integers(3, 600))
    top, left = draw(st.integers(1, h - 2)), draw(st.integers(1, w - 2))
    bottom, right = draw(st.integers(top + 1, h - 1)), draw(st.integers(left + 1, w - 1))
    canvas = np.zeros((h, w), np.uint8)
    canvas[top:bottom, left:right] = draw(st.integers(60, 255))
    image = encode(canvas, draw(st.sampled_from(ENCODINGS)))
    return image.astype(draw(st.sampled_from([np.uint8, np.int32, np.float32, np.float64])))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.one_of(images().map(lambda a: (a, False)), drawings().map(lambda a: (a, True))))
def test_preprocess_gives_valid_input_or_typed_error(case):
    image, is_drawing = case
    try:
        x = preprocess(image)
    except ImageError:
        assert not is_drawing, "a plain drawing was refused"
        return
    assert x.shape == (1, 1, 28, 28) and x.dtype == torch.float32 and torch.isfinite(x).all()
    if is_drawing:
        assert float(denormalize(x).max()) > 0.5  # the ink is there


@pytest.fixture(scope="module")
def valid_bytes(tmp_path_factory):
    return save_checkpoint(tmp_path_factory.mktemp("c") / "c.pt", SimpleCNN().state_dict()).read_bytes()


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=4096))
def test_random_bytes_are_refused(data):
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(data)
    assert "unsafe" not in str(err.value)  # only a pickle that would run code is called unsafe


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_truncated_or_corrupted_checkpoints_are_refused_or_valid(valid_bytes, data):
    cut = data.draw(st.integers(0, len(valid_bytes) - 1))
    blob = bytearray(valid_bytes[:cut] if data.draw(st.booleans()) else valid_bytes)
    if blob and data.draw(st.booleans()):
        pos = data.draw(st.integers(0, len(blob) - 1))
        blob[pos] ^= data.draw(st.integers(1, 255))
    try:
        ckpt = load_checkpoint(bytes(blob))
    except CheckpointError:
        return
    assert set(ckpt.state_dict) == set(SimpleCNN().state_dict())  # a flip in padding can leave it valid
