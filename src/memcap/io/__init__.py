"""Interchange: memcap's npz files, PyTorch modules, ONNX models, VNN-LIB properties."""
