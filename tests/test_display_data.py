"""Display reads one split straight from the IDX files: same pixels as the training loader, far less memory."""

from __future__ import annotations

import numpy as np
import pytest

from simplecnn import data

pytestmark = pytest.mark.skipif(not data.data_available(), reason="needs MNIST (SIMPLECNN_DATA)")


def test_read_split_matches_the_loader() -> None:
    loaded = data.load_mnist()
    pixels, labels = data.read_split(train=False)
    assert pixels.dtype == np.uint8 and pixels.shape == (data.TEST_SIZE, data.IMAGE_SIZE, data.IMAGE_SIZE)
    assert np.array_equal(pixels, loaded.test_pixels[:, 0].numpy())
    assert np.array_equal(labels, loaded.test_y.numpy())
    first, first_labels = data.read_split(train=True, count=25)
    assert np.array_equal(first, loaded.train_pixels[:25, 0].numpy())
    assert np.array_equal(first_labels, loaded.train_y[:25].numpy())


def test_a_broken_file_is_a_clear_error(tmp_path) -> None:
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in data.RAW_FILES:
        (raw / name).write_bytes(b"not an idx file at all")
    with pytest.raises(data.DataUnavailableError, match="not an MNIST IDX file"):
        data.read_split(train=False, root=tmp_path)
