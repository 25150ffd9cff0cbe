"""Save / load (npz + JSON metadata, never pickle; written atomically) and export to PyTorch."""

from __future__ import annotations

import io
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import flint
import numpy as np

from memcap.network import Activation, Dense, Network, Residual
from memcap.numerics import to_float_array

__all__ = ["save", "load", "to_torch", "atomic_write_bytes", "require_extra", "FORMAT_VERSION"]

FORMAT_VERSION = 1


def require_extra(module: str, extra: str) -> Any:
    """Import an optional dependency or fail saying which extra to install."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(
            f"this feature needs '{module}', which is in memcap's '{extra}' extra: "
            f"pip install 'memcap[{extra}]'"
        ) from None


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: a temporary file in the same folder, then rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _encode(a: np.ndarray) -> tuple[np.ndarray, str]:
    if a.dtype == object:
        return np.array([str(v) for v in a.ravel()], dtype=np.str_).reshape(a.shape), "exact"
    return np.asarray(a, dtype=np.float64), "float64"


def _decode(a: np.ndarray, kind: str) -> np.ndarray:
    if kind == "exact":
        out = np.empty(a.shape, dtype=object)
        out.ravel()[:] = [flint.fmpq(*map(int, v.split("/"))) for v in a.ravel()]
        return out
    return np.asarray(a, dtype=np.float64)


def save(net: Network, path: str | os.PathLike[str]) -> None:
    """Save to a ``.npz`` holding the arrays and a JSON header (exact weights as 'p/q' strings)."""
    arrays: dict[str, np.ndarray] = {}
    layers_meta = []
    for i, layer in enumerate(net.layers):
        names = ["weight", "bias"] if isinstance(layer, Dense) else ["U", "b", "V", "c"]
        kinds = {}
        for name, arr in zip(names, layer.arrays(), strict=True):
            enc, kind = _encode(arr)
            arrays[f"layer{i}.{name}"] = enc
            kinds[name] = kind
        layers_meta.append({"type": type(layer).__name__, "activation": layer.activation.to_json(),
                            "arrays": kinds})
    header = {"format": "memcap-network", "version": FORMAT_VERSION, "layers": layers_meta,
              "meta": net.meta}
    arrays["__memcap__"] = np.array(json.dumps(header, default=str))
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())


def load(path: str | os.PathLike[str]) -> Network:
    """Load a network written by :func:`save` (no pickle: arrays and JSON only)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            if "__memcap__" not in z.files:
                raise ValueError(f"{path} is not a memcap network file (no __memcap__ header)")
            header = json.loads(str(z["__memcap__"]))
            if header.get("format") != "memcap-network":
                raise ValueError(f"{path}: unknown format {header.get('format')!r}")
            if header.get("version", 0) > FORMAT_VERSION:
                raise ValueError(f"{path} was written by a newer memcap (format {header['version']})")
            layers: list[Dense | Residual] = []
            for i, lm in enumerate(header["layers"]):
                act = Activation.from_json(lm["activation"])
                arrs = [_decode(z[f"layer{i}.{n}"], k) for n, k in lm["arrays"].items()]
                layers.append(Dense(*arrs, act) if lm["type"] == "Dense" else Residual(*arrs, act))
    except FileNotFoundError:
        raise FileNotFoundError(f"no such network file: {path}") from None
    except (OSError, KeyError, json.JSONDecodeError, ValueError) as exc:
        if isinstance(exc, ValueError) and "memcap" in str(exc):
            raise
        raise ValueError(f"cannot read {path} as a memcap network: {exc}") from None
    return Network(layers, header.get("meta", {}))


# ---- PyTorch ----------------------------------------------------------------------------------
def _torch_activation(act: Activation, torch: Any) -> Any:
    nn = torch.nn
    if act.kind == "identity":
        return None
    if act.kind == "hardtanh":
        return nn.Hardtanh(-1.0, 1.0)
    if act.kind == "tanh":
        return nn.Tanh()
    if act.kind == "softplus":
        return nn.Softplus(beta=1.0, threshold=40.0)  # above 40, x + e^-x rounds to x
    if act.s_plus == 1 and act.s_minus == 0:
        return nn.ReLU()
    if act.s_plus == 1:
        return nn.LeakyReLU(float(act.s_minus))
    return _ReluLike(float(act.s_plus), float(act.s_minus), torch)


def _ReluLike(sp: float, sm: float, torch: Any) -> Any:  # noqa: N802 - factory of a Module
    class ReluLike(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.sp, self.sm = sp, sm

        def forward(self, x: Any) -> Any:
            return self.sp * torch.relu(x) - self.sm * torch.relu(-x)

        def extra_repr(self) -> str:
            return f"s_plus={self.sp}, s_minus={self.sm}"

    return ReluLike()


def _residual_module(layer: Residual, dtype: Any, torch: Any, act_mod: Callable[[], Any]) -> Any:
    class ResidualBlock(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = torch.nn.Linear(layer.in_dim, layer.hidden, dtype=dtype)
            self.outer = torch.nn.Linear(layer.hidden, layer.in_dim, dtype=dtype)
            self.act = act_mod() or torch.nn.Identity()

        def forward(self, h: Any) -> Any:
            return h + self.outer(self.act(self.inner(h)))

    block = ResidualBlock()
    with torch.no_grad():
        block.inner.weight.copy_(torch.as_tensor(to_float_array(layer.U), dtype=dtype))
        block.inner.bias.copy_(torch.as_tensor(to_float_array(layer.b), dtype=dtype))
        block.outer.weight.copy_(torch.as_tensor(to_float_array(layer.V), dtype=dtype))
        block.outer.bias.copy_(torch.as_tensor(to_float_array(layer.c), dtype=dtype))
    return block


def _check_float_faithful(net: Network, dtype: Any, torch: Any, allow_unfaithful: bool) -> None:
    """Refuse (or warn) when memcap's verifier did not certify a float evaluation of ``net``.

    ``meta["verification"]`` (written by :func:`memcap.construct`) says whether float64 / float32
    evaluation is certified to memorize; ``meta["exact_only"]`` marks constructions whose weights
    need more bits than a float carries (e.g. packed lookup weights). Those are refused unless
    ``allow_unfaithful=True``; an uncertified float export of any other network only warns.
    """
    import warnings

    ver = net.meta.get("verification") or {}
    key = "float64_memorizes" if dtype == torch.float64 else "float32_memorizes"
    certified = ver.get(key)
    exact_only = bool(net.meta.get("exact_only"))
    if certified is True or (certified is None and not exact_only):
        return
    msg = (f"{net.meta.get('method', 'this network')} is not certified to memorize when evaluated in "
           f"{dtype}: memcap certified it in exact arithmetic of its stored weights"
           + (f" (about {ver['bits_needed']} mantissa bits needed)" if ver.get("bits_needed") else "")
           + ". Evaluate it with memcap (memcap.verify / numerics.forward_exact)")
    if exact_only and not allow_unfaithful:
        from memcap.errors import NeedsExactArithmetic  # a ValueError: typed refusal

        bits = net.meta.get("weight_bits")
        raise NeedsExactArithmetic(
            msg + (f"; its weights need {bits} bits, float{64 if dtype == torch.float64 else 32} "
                   f"carries {53 if dtype == torch.float64 else 24}" if bits else "")
            + "; pass allow_unfaithful=True to export the rounded weights anyway")
    warnings.warn(msg, RuntimeWarning, stacklevel=3)


def to_torch(net: Network, dtype: Any = None, allow_unfaithful: bool = False) -> Any:
    """``torch.nn.Sequential`` computing the same function (weights rounded to ``dtype``,
    default float64). Needs the ``torch`` extra. Refuses networks marked exact-only whose float
    evaluation is not certified (see :func:`_check_float_faithful`) unless ``allow_unfaithful``."""
    torch = require_extra("torch", "torch")
    dtype = dtype or torch.float64
    _check_float_faithful(net, dtype, torch, allow_unfaithful)
    mods: list[Any] = []
    for layer in net.layers:
        if isinstance(layer, Dense):
            lin = torch.nn.Linear(layer.in_dim, layer.out_dim, dtype=dtype)
            with torch.no_grad():
                lin.weight.copy_(torch.as_tensor(to_float_array(layer.weight), dtype=dtype))
                lin.bias.copy_(torch.as_tensor(to_float_array(layer.bias), dtype=dtype))
            mods.append(lin)
            act = _torch_activation(layer.activation, torch)
            if act is not None:
                mods.append(act)
        else:
            mods.append(_residual_module(layer, dtype, torch,
                                         lambda a=layer.activation: _torch_activation(a, torch)))
    return torch.nn.Sequential(*mods)
