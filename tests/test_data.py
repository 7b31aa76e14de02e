import torch

from simplecnn.data import IMAGE_SIZE, TEST_SIZE, TRAIN_SIZE, MNISTTensors, missing_data_message, normalize
from simplecnn.device import _parse_cpuinfo


def test_mnist_held_as_uint8_and_normalised_on_access(mnist):
    assert mnist.train_pixels.dtype == torch.uint8 and mnist.train_pixels.shape == (
        TRAIN_SIZE,
        1,
        IMAGE_SIZE,
        IMAGE_SIZE,
    )
    assert mnist.test_pixels.shape == (TEST_SIZE, 1, IMAGE_SIZE, IMAGE_SIZE)
    x = mnist.test_x
    assert x.dtype == torch.float32 and torch.equal(x[:5], normalize(mnist.test_pixels[:5]))
    assert abs(float(x.mean()) - 0.0) < 0.05 and abs(float(x.std()) - 1.0) < 0.05  # MNIST mean/std applied
    small = mnist.subset(100, 10)
    assert isinstance(small, MNISTTensors) and len(small.train_y) == 100 and small.test_x.shape[0] == 10
    assert small.train_pixels.data_ptr() == mnist.train_pixels.data_ptr()  # a view, no copy


def test_missing_data_message_says_where_and_what_to_do(tmp_path):
    message = missing_data_message(tmp_path)
    assert str(tmp_path / "MNIST" / "raw") in message and "SIMPLECNN_DATA" in message and "\n" not in message
    failed = missing_data_message(tmp_path, OSError("no route to host\nmore"))
    assert "download failed (OSError: no route to host)" in failed


def test_cpuinfo_parsed_once_into_facts():
    text = (
        "processor\t: 0\nmodel name\t: AMD EPYC 7B13\nsiblings\t: 4\ncpu cores\t: 2\n"
        "flags\t\t: fpu avx2 fma\n\nprocessor\t: 1\nmodel name\t: other\n"
    )
    info = _parse_cpuinfo(text)
    assert info.name == "AMD EPYC 7B13" and info.threads_per_core == 2 and "avx2" in info.flags
    assert not info.native_bf16 and _parse_cpuinfo(text.replace("fma", "avx512_bf16")).native_bf16
