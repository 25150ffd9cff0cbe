"""Export a :class:`~memcap.network.Network` to a PyTorch ``nn.Sequential``.

Sparse layers become :class:`SparseLinear` modules holding the weight as a torch sparse COO tensor
(``torch.sparse.mm``), so the export never materializes the dense matrix. ``sparse=False`` asks for
plain ``nn.Linear`` copies instead and is refused (:class:`~memcap.errors.OptionError`, with the
estimate) when the dense weights would take more than ``max_dense_bytes``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from memcap import meta as mk
from memcap._util import require_extra
from memcap.errors import OptionError
from memcap.network import Activation, Dense, Network, Residual
from memcap.numerics import to_float_array

__all__ = ["to_torch", "DENSE_LIMIT_BYTES"]

#: default limit on the dense weights a ``sparse=False`` export may allocate (2 GiB)
DENSE_LIMIT_BYTES = 2 * 2**30


def _sparse_linear(layer: Dense, dtype: Any, torch: Any) -> Any:
    W = layer.weight.tocoo()

    class SparseLinear(torch.nn.Module):
        """``x W^T + b`` with W a sparse COO tensor (memcap sparse layer)."""

        def __init__(self) -> None:
            super().__init__()
            idx = torch.as_tensor(np.vstack([W.row, W.col]).astype(np.int64))
            w = torch.sparse_coo_tensor(idx, torch.as_tensor(W.data, dtype=dtype), W.shape,
                                        check_invariants=True).coalesce()
            self.register_buffer("weight", w)
            self.bias = torch.nn.Parameter(torch.as_tensor(to_float_array(layer.bias), dtype=dtype),
                                           requires_grad=False)
            self.in_features, self.out_features = W.shape[1], W.shape[0]

        def forward(self, x: Any) -> Any:
            flat = x.reshape(-1, self.in_features)
            out = torch.sparse.mm(self.weight, flat.T).T + self.bias
            return out.reshape(*x.shape[:-1], self.out_features)

        def extra_repr(self) -> str:
            return (f"in_features={self.in_features}, out_features={self.out_features}, "
                    f"nnz={self.weight._nnz()}")

    return SparseLinear()


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

    ``meta[mk.VERIFICATION]`` (written by :func:`memcap.construct`) says whether float64 / float32
    evaluation is certified to memorize; ``meta[mk.EXACT_ONLY]`` marks constructions whose weights
    need more bits than a float carries (e.g. packed lookup weights). Those are refused unless
    ``allow_unfaithful=True``; an uncertified float export of any other network only warns.
    """
    import warnings

    ver = net.meta.get(mk.VERIFICATION) or {}
    key = "float64_memorizes" if dtype == torch.float64 else "float32_memorizes"
    certified = ver.get(key)
    exact_only = bool(net.meta.get(mk.EXACT_ONLY))
    if certified is True or (certified is None and not exact_only):
        return
    msg = (f"{net.meta.get(mk.METHOD, 'this network')} is not certified to memorize when evaluated in "
           f"{dtype}: memcap certified it in exact arithmetic of its stored weights"
           + (f" (about {ver['bits_needed']} mantissa bits needed)" if ver.get("bits_needed") else "")
           + ". Evaluate it with memcap (memcap.verify / numerics.forward_exact)")
    if exact_only and not allow_unfaithful:
        from memcap.errors import NeedsExactArithmetic  # a ValueError: typed refusal

        bits = net.meta.get(mk.WEIGHT_BITS)
        raise NeedsExactArithmetic(
            msg + (f"; its weights need {bits} bits, float{64 if dtype == torch.float64 else 32} "
                   f"carries {53 if dtype == torch.float64 else 24}" if bits else "")
            + "; pass allow_unfaithful=True to export the rounded weights anyway")
    warnings.warn(msg, RuntimeWarning, stacklevel=3)


def to_torch(net: Network, dtype: Any = None, allow_unfaithful: bool = False, sparse: bool = True,
             max_dense_bytes: int = DENSE_LIMIT_BYTES) -> Any:
    """``torch.nn.Sequential`` computing the same function (weights rounded to ``dtype``,
    default float64). Needs the ``torch`` extra. Refuses networks marked exact-only whose float
    evaluation is not certified (see :func:`_check_float_faithful`) unless ``allow_unfaithful``.
    Sparse layers stay sparse (``SparseLinear``); with ``sparse=False`` they are copied dense, refused
    with an :class:`OptionError` beyond ``max_dense_bytes``."""
    torch = require_extra("torch", "torch")
    dtype = dtype or torch.float64
    _check_float_faithful(net, dtype, torch, allow_unfaithful)
    if not sparse and net.sparse:
        item = torch.empty((), dtype=dtype).element_size()
        need = sum(la.out_dim * la.in_dim for la in net.layers if isinstance(la, Dense)) * item
        if need > max_dense_bytes:
            raise OptionError(
                f"a dense torch copy of this network needs {need / 2**20:.3g} MiB of weights "
                f"({net.parameters} dense parameters, {net.stored_parameters} stored); the limit is "
                f"{max_dense_bytes / 2**20:.3g} MiB: export with sparse=True (torch sparse layers) or "
                "raise max_dense_bytes")
    mods: list[Any] = []
    for layer in net.layers:
        if isinstance(layer, Dense) and layer.sparse and sparse:
            mods.append(_sparse_linear(layer, dtype, torch))
            act = _torch_activation(layer.activation, torch)
            if act is not None:
                mods.append(act)
        elif isinstance(layer, Dense):
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
