"""Local CIFAR-10 (binary) and SVHN (.mat) loaders: formats, and clear errors for wrong folders."""

from __future__ import annotations

import numpy as np
import pytest

from memcap.data.cifar import load_images, load_source
from memcap.data.dataset import DataError


def _write_cifar(folder, n=7, seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    truth = {}
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        y = rng.integers(0, 10, n).astype(np.uint8)
        X = rng.integers(0, 256, (n, 3, 32, 32)).astype(np.uint8)
        rec = np.concatenate([y[:, None], X.reshape(n, -1)], axis=1)
        rec.tofile(folder / name)
        truth[name] = (X, y)
    return truth


def test_cifar_binary_roundtrip(tmp_path):
    truth = _write_cifar(tmp_path / "cifar-10-batches-bin")
    X, y = load_images("cifar10", tmp_path, "train")
    assert X.shape == (35, 3, 32, 32) and X.dtype == np.uint8
    np.testing.assert_array_equal(X[:7], truth["data_batch_1.bin"][0])
    np.testing.assert_array_equal(y[7:14], truth["data_batch_2.bin"][1])
    Xt, yt = load_images("cifar10", tmp_path / "cifar-10-batches-bin", "test", limit=3)
    np.testing.assert_array_equal(Xt, truth["test_batch.bin"][0][:3])
    ds = load_source(f"cifar10:{tmp_path}?split=test&n=5")
    assert ds.N == 5 and ds.d_x == 3072 and ds.X.max() <= 1.0


def test_cifar_python_version_is_refused_without_unpickling(tmp_path):
    d = tmp_path / "cifar-10-batches-py"
    d.mkdir()
    (d / "data_batch_1").write_bytes(b"\x80\x04not really a pickle")
    with pytest.raises(DataError, match="binary version"):
        load_images("cifar10", tmp_path)


def test_cifar_errors_name_the_expected_files(tmp_path):
    with pytest.raises(DataError, match="data_batch_1.bin"):
        load_images("cifar10", tmp_path)
    d = tmp_path / "b"
    _write_cifar(d)
    (d / "data_batch_3.bin").unlink()
    with pytest.raises(DataError, match="data_batch_3.bin"):
        load_images("cifar10", d)
    (d / "data_batch_3.bin").write_bytes(b"\x00" * 100)
    with pytest.raises(DataError, match="multiple of 3073"):
        load_images("cifar10", d)


def test_svhn_mat(tmp_path):
    from scipy.io import savemat

    rng = np.random.default_rng(1)
    X = rng.integers(0, 256, (32, 32, 3, 6)).astype(np.uint8)
    y = np.array([[10], [1], [2], [10], [9], [3]])
    savemat(tmp_path / "train_32x32.mat", {"X": X, "y": y})
    Xi, yi = load_images("svhn", tmp_path, "train")
    assert Xi.shape == (6, 3, 32, 32)
    assert yi.tolist() == [0, 1, 2, 0, 9, 3]
    np.testing.assert_array_equal(Xi[2, 1], X[:, :, 1, 2])
    with pytest.raises(DataError, match="test_32x32.mat"):
        load_images("svhn", tmp_path, "test")
    (tmp_path / "bad.mat").write_bytes(b"garbage")
    with pytest.raises(DataError, match="SVHN"):
        load_images("svhn", tmp_path / "bad.mat")
    with pytest.raises(DataError, match="unknown option"):
        load_source(f"svhn:{tmp_path}?nn=3")


def test_load_dataset_source_string(tmp_path):
    import memcap

    _write_cifar(tmp_path)
    ds = memcap.load_dataset(f"cifar10:{tmp_path}", limit=9)
    assert ds.N == 9 and ds.task == "classification"
    with pytest.raises(DataError, match="train_32x32.mat"):
        memcap.load_dataset(f"svhn:{tmp_path}")
