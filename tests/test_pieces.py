"""Exact piece counting along a line and Theorem 3.3's hard dataset."""

import flint
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import memcap
from memcap.bounds.yun2019 import thm33_max_n, thm33_pieces
from memcap.certify.pieces import count_pieces, direction_changes
from memcap.network import HARDTANH, IDENTITY, RELU, Activation, Dense, Network, Residual
from memcap.numerics import _exact_act, to_exact_array
from memcap.theory.yun2019 import piece_bound


def _exact_f(net, x0, u, t):
    """f(x0 + t u) in exact rationals for rational t (test oracle independent of pieces.py)."""
    h = [a + t * b for a, b in zip(to_exact_array(np.array(x0)), to_exact_array(np.array(u)), strict=True)]
    for layer in net.layers:
        if isinstance(layer, Dense):
            W, b = to_exact_array(layer.weight), to_exact_array(layer.bias)
            h = [_exact_act(sum((W[i, j] * h[j] for j in range(len(h))), b[i]), layer.activation)
                 for i in range(W.shape[0])]
        else:
            U, b, V, c = (to_exact_array(a) for a in layer.arrays())
            a = [_exact_act(sum((U[i, j] * h[j] for j in range(len(h))), b[i]), layer.activation)
                 for i in range(U.shape[0])]
            h = [h[r] + sum((V[r, i] * a[i] for i in range(len(a))), c[r]) for r in range(len(h))]
    return h


def _random_net(rng, widths, act, d_x=2, residual=False):
    layers, d = [], d_x
    for w in widths:
        if residual:
            layers.append(Residual(rng.standard_normal((w, d)), rng.standard_normal(w),
                                   rng.standard_normal((d, w)), rng.standard_normal(d), act))
        else:
            layers.append(Dense(rng.standard_normal((w, d)), rng.standard_normal(w), act))
            d = w
    layers.append(Dense(rng.standard_normal((1, d)), rng.standard_normal(1), IDENTITY))
    return Network(layers)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10**6), widths=st.lists(st.integers(1, 4), min_size=1, max_size=3),
       act=st.sampled_from([RELU, HARDTANH, Activation.parse("leaky:0.25")]), residual=st.booleans())
def test_counted_pieces_are_exactly_the_affine_pieces(seed, widths, act, residual):
    rng = np.random.default_rng(seed)
    net = _random_net(rng, widths, act, residual=residual)
    x0, u = [0.5, -0.25], [1.0, 0.75]
    pc = count_pieces(net, x0, u)
    p = act.pieces
    assert pc.pieces <= piece_bound(widths, p, residual)
    if not residual and len(widths) <= 2:
        assert pc.pieces <= thm33_pieces(widths, p)
    bps = pc.breakpoints
    assert bps == sorted(bps) and len(bps) == pc.pieces - 1
    gap = min((b - a for a, b in zip(bps[:-1], bps[1:], strict=True)), default=flint.fmpq(1))
    eps = gap / 4 if bps else flint.fmpq(1)

    def slope(t0, t1):
        return [(b - a) / (t1 - t0) for a, b in zip(_exact_f(net, x0, u, t0), _exact_f(net, x0, u, t1),
                                                   strict=True)]

    # affine between breakpoints: three points per piece are collinear
    edges = [bps[0] - 1 - eps, *bps, bps[-1] + 1 + eps] if bps else [flint.fmpq(-3), flint.fmpq(3)]
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        s, e = a + eps / 2, b - eps / 2
        m = (s + e) / 2
        assert slope(s, m) == slope(m, e)
    # a real kink at every breakpoint
    for t in bps:
        assert slope(t - eps, t) != slope(t, t + eps)


@pytest.mark.parametrize(("widths", "p"), [((10,), 2), ((10,), 3), ((4, 4), 2), ((3, 5), 3)])
def test_paper_counts(widths, p):
    assert thm33_max_n(widths, p) == thm33_pieces(widths, p) + 1
    if len(widths) == 1:
        assert thm33_max_n(widths, p) == (p - 1) * widths[0] + 2
        assert piece_bound(widths, p) == thm33_pieces(widths, p)
    else:
        d1, d2 = widths
        assert thm33_max_n(widths, p) == p * (p - 1) * d1 * d2 + (p - 1) * d2 + 2
        assert piece_bound(widths, p) <= thm33_pieces(widths, p)


def test_direction_changes():
    assert direction_changes([-1, 1, -1, 1]) == 2
    assert direction_changes([0, 1, 1, 2]) == 0
    assert direction_changes([0, 2, 1, 3, 2]) == 3


def test_network_below_the_bound_fails_on_the_hard_dataset():
    """3-layer ReLU 2-2: Theorem 3.3 rules out N > 2·2·2 + 2 + 2 = 12. On gen:hard with N = 20 no weights
    work: random nets and a trained net all fail, and their exact piece count on [1, N] bounds the
    direction changes of their values at the data, which would have to be N - 2 = 18."""
    N, widths = 20, (2, 2)
    assert thm33_max_n(widths, 2) == 12 < N
    ds = memcap.load_dataset(f"gen:hard?n={N}")
    rng = np.random.default_rng(0)
    nets = [_random_net(rng, widths, RELU, d_x=1) for _ in range(20)]
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    nn = torch.nn
    model = nn.Sequential(nn.Linear(1, 2), nn.ReLU(), nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1)).double()
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    X, Y = torch.tensor(ds.X), torch.tensor(ds.targets)
    for _ in range(300):
        opt.zero_grad()
        loss = ((model(X) - Y) ** 2).mean()
        loss.backward()
        opt.step()
    lin = [m for m in model if isinstance(m, torch.nn.Linear)]
    nets.append(Network([Dense(lin[0].weight.detach().numpy(), lin[0].bias.detach().numpy(), RELU),
                         Dense(lin[1].weight.detach().numpy(), lin[1].bias.detach().numpy(), RELU),
                         Dense(lin[2].weight.detach().numpy(), lin[2].bias.detach().numpy(), IDENTITY)]))
    for net in nets:
        pc = count_pieces(net, [0.0], [1.0], 1, N)
        assert pc.pieces <= thm33_pieces(widths, 2) < N - 1
        assert direction_changes(net(ds.X)[:, 0]) <= pc.pieces - 1 < N - 2
        rep = memcap.verify(net, ds)
        assert rep.certified and not rep.memorized


def test_yun_3layer_at_the_sufficient_size_succeeds_on_the_hard_dataset():
    N = 20
    ds = memcap.load_dataset(f"gen:hard?n={N}")
    c = memcap.construct(ds, "yun-3layer")
    assert c.verification.memorized and c.verification.certified
    d1, d2 = c.network.widths
    assert N <= thm33_max_n((d1, d2), 2)  # sufficient ⇒ not ruled out
    pc = count_pieces(c.network, [0.0], [1.0], 1, N)
    assert direction_changes(c.network(ds.X)[:, 0]) == N - 2
    assert N - 1 <= pc.pieces <= piece_bound((d1, d2), 2)


def test_two_layer_tightness_with_zhang():
    """Theorem 3.3's 2-layer count (p-1)d1 + 2 is attained: zhang17-wide with d1 = N - 2 would be ruled
    out only beyond N; with d1 = N it memorizes gen:hard."""
    N = 16
    ds = memcap.load_dataset(f"gen:hard?n={N}")
    c = memcap.construct(ds, "zhang17-wide")
    assert c.verification.memorized
    assert count_pieces(c.network, [0.0], [1.0], 1, N).pieces >= N - 1
    assert thm33_max_n((N - 3,), 2) < N  # a narrower 2-layer ReLU net cannot
