"""Grading tests for assignment 2 (normalisation, dropout, convolution, optimisers, networks).

One test per region a student writes (forward and backward separately). Each test
draws fresh shapes and values, and its probe calls the student's function the way a
notebook would. Backward tests run the student's own forward pass to get the cache
(whose layout is the student's choice), so a forward pass must at least run for its
backward pass to earn points; the hints say so.

Dropout is random by design: students may draw the mask with any of numpy's random
functions, so its tests judge the raw outputs with ``check`` functions (kept units
scaled by 1/p, the fraction kept close to p, a repeatable mask under a fixed seed,
the backward pass consistent with the student's own mask) instead of comparing with
the reference's mask. The network tests set every parameter explicitly, so the
initialisation's randomness plays no part, and replace the dropout layers by fixed
masks, so that the network is graded apart from the dropout layer.
"""

import numpy as np

from cs231n.instructor.grade import Registry

TESTS = Registry()

# A model's test grades the model, not its layers (they have their own tests): the layers
# it calls answer with the reference's values (cs231n.instructor.answers). Layer_utils holds
# them all: the layers, the fast layers and the sandwiches.
LAYERS = ("cs231n.layer_utils:*",)
BATCHNORM = (
    "cs231n.layers:batchnorm_forward",
    "cs231n.layers:batchnorm_backward",
    "cs231n.layers:batchnorm_backward_alt",
)

FWD_TOL = 1e-6
BWD_TOL = 1e-6


def _size(rng, lo, hi):
    return int(rng.integers(lo, hi + 1))


def _features(rng, N, D):
    """(N, D) data with a different mean and scale per feature, as real activations have."""
    loc = rng.uniform(-3, 3, D)
    scale = rng.uniform(0.5, 3, D)
    return loc + scale * rng.standard_normal((N, D))


# -- batch normalisation ---------------------------------------------------------------


def _bn_data(rng):
    N, D = _size(rng, 4, 12), _size(rng, 3, 9)
    return {
        "x": _features(rng, N, D),
        "gamma": rng.uniform(0.5, 2, D),
        "beta": rng.standard_normal(D),
        "dout": rng.standard_normal((N, D)),
    }


@TESTS(
    "a2.batchnorm.forward_train",
    3,
    tol=FWD_TOL,
    hint="normalise each feature (column) with the minibatch mean and variance, with eps "
    "added to the variance inside the square root; then scale by gamma and shift by "
    "beta, and update running_mean and running_var with the momentum formula.",
    parts={
        "output": (["out"], 2),
        "running averages": (["running_mean", "running_var"], 1),
    },
)
def batchnorm_forward_train(rng):
    data = _bn_data(rng)
    D = data["x"].shape[1]
    data["bn_param"] = {
        "mode": "train",
        "momentum": float(rng.uniform(0.5, 0.95)),
        "eps": float(rng.choice([1e-5, 1e-3])),
        "running_mean": rng.standard_normal(D),
        "running_var": rng.uniform(0.5, 2, D),
    }
    code = (
        "from cs231n.layers import batchnorm_forward\n"
        "o, _ = batchnorm_forward(x, gamma, beta, bn_param)\n"
        "out = {'out': o, 'running_mean': bn_param['running_mean'],\n"
        "       'running_var': bn_param['running_var']}"
    )
    return data, code


@TESTS(
    "a2.batchnorm.forward_test",
    1,
    tol=FWD_TOL,
    hint="in test mode, normalise with running_mean and running_var (not the batch "
    "statistics), then scale and shift.",
)
def batchnorm_forward_test(rng):
    data = _bn_data(rng)
    D = data["x"].shape[1]
    data["bn_param"] = {
        "mode": "test",
        "eps": float(rng.choice([1e-5, 1e-3])),
        "running_mean": rng.standard_normal(D),
        "running_var": rng.uniform(0.5, 2, D),
    }
    code = (
        "from cs231n.layers import batchnorm_forward\n"
        "o, _ = batchnorm_forward(x, gamma, beta, bn_param)\nout = {'out': o}"
    )
    return data, code


_BN_BACKWARD_HINT = (
    "the mean and the variance depend on every row of x, so each x[i] receives gradient "
    "through xhat, through the variance and through the mean. This test runs your "
    "batchnorm_forward in train mode first, so that must work too."
)


def _bn_backward(func):
    def make(rng):
        code = (
            f"from cs231n.layers import batchnorm_forward, {func}\n"
            "_, cache = batchnorm_forward(x, gamma, beta, {'mode': 'train'})\n"
            f"dx, dgamma, dbeta = {func}(dout, cache)\n"
            "out = {'dx': dx, 'dgamma': dgamma, 'dbeta': dbeta}"
        )
        return _bn_data(rng), code

    return make


TESTS(
    "a2.batchnorm.backward",
    4,
    uses=("a2.batchnorm.forward_train",),
    tol=BWD_TOL,
    hint=_BN_BACKWARD_HINT,
)(_bn_backward("batchnorm_backward"))
TESTS(
    "a2.batchnorm.backward_alt",
    3,
    uses=("a2.batchnorm.forward_train",),
    tol=BWD_TOL,
    hint="simplify the chain rule on paper first: dx only needs dxhat = dout * gamma, xhat, "
    "1/sqrt(var + eps) and two sums over the batch. " + _BN_BACKWARD_HINT.split(". ")[1],
)(_bn_backward("batchnorm_backward_alt"))


# -- layer normalisation ---------------------------------------------------------------


def _ln_data(rng):
    N, D = _size(rng, 3, 8), _size(rng, 4, 12)
    x = rng.uniform(-3, 3, (N, 1)) + rng.uniform(0.5, 3, (N, 1)) * rng.standard_normal((N, D))
    return {
        "x": x,
        "gamma": rng.uniform(0.5, 2, D),
        "beta": rng.standard_normal(D),
        "dout": rng.standard_normal((N, D)),
        "ln_param": {"eps": float(rng.choice([1e-5, 1e-3]))},
    }


@TESTS(
    "a2.layernorm.forward",
    2,
    tol=FWD_TOL,
    hint="normalise each example (row) over its features, with eps added to the variance; "
    "gamma and beta still act per feature.",
)
def layernorm_forward(rng):
    code = (
        "from cs231n.layers import layernorm_forward\n"
        "o, _ = layernorm_forward(x, gamma, beta, ln_param)\nout = {'out': o}"
    )
    return _ln_data(rng), code


@TESTS(
    "a2.layernorm.backward",
    3,
    uses=("a2.layernorm.forward",),
    tol=BWD_TOL,
    hint="it is batch norm's backward pass with the sums taken over the features of each "
    "example instead of over the batch; dgamma and dbeta still sum over the batch. "
    "This test runs your layernorm_forward first.",
)
def layernorm_backward(rng):
    code = (
        "from cs231n.layers import layernorm_forward, layernorm_backward\n"
        "_, cache = layernorm_forward(x, gamma, beta, ln_param)\n"
        "dx, dgamma, dbeta = layernorm_backward(dout, cache)\n"
        "out = {'dx': dx, 'dgamma': dgamma, 'dbeta': dbeta}"
    )
    return _ln_data(rng), code


# -- dropout -----------------------------------------------------------------------------


def _dropout_data(rng):
    shape = (_size(rng, 40, 60), _size(rng, 20, 30), _size(rng, 20, 30))  # ~ 30,000 units
    x = rng.standard_normal(shape)
    x = np.sign(x) * (0.1 + np.abs(x))  # no zeros: a dropped unit is recognisable
    # The keep probability stays away from 1/2 so that p and 1 - p are told apart.
    p = float(rng.choice([rng.uniform(0.2, 0.4), rng.uniform(0.6, 0.8)]))
    return {"x": x, "p": p, "seed": int(rng.integers(2**31)), "dout": rng.standard_normal(shape)}


def _get(got, key, shape):
    value = got.get(key)
    if value is None:
        return None, f"no value for '{key}' was returned"
    if value.shape != shape:
        return None, f"'{key}' has shape {value.shape}, expected {shape}"
    if not np.issubdtype(value.dtype, np.floating) or not np.all(np.isfinite(value)):
        return None, f"'{key}' must hold finite floating-point numbers"
    return value.astype(np.float64), ""


def _check_dropout_forward(inputs, expected, got):
    x, p = inputs["x"], inputs["p"]
    out, why = _get(got, "out", x.shape)
    if out is None:
        return False, why
    ratio = out / x  # 0 for a dropped unit, 1 / p for a kept one
    dropped = np.abs(ratio) <= 1e-12
    kept = np.abs(ratio - 1 / p) <= 1e-9 / p
    if not np.all(dropped | kept):
        bad = int(np.sum(~(dropped | kept)))
        return False, (
            f"{bad} of {x.size} outputs are neither 0 (dropped) nor x / p (kept and "
            "scaled by 1/p, as inverted dropout does)"
        )
    frac = float(kept.mean())
    if abs(frac - p) > 0.02:
        return False, (
            f"{frac:.1%} of the units were kept, but dropout_param['p'] = {p:.2f} is "
            "the probability of KEEPING a unit"
        )
    # Random, not merely the right count: every part of x keeps about a fraction p (a
    # fixed mask keeping the first units fails), and another seed draws another mask.
    flat = kept.ravel()
    for name, half in (("first", flat[: flat.size // 2]), ("second", flat[flat.size // 2 :])):
        if abs(float(half.mean()) - p) > 0.05:
            return False, (
                f"the {name} half of the units kept {half.mean():.1%}, not about p = {p:.2f}: "
                "each unit must be kept at random, independently of its position"
            )
    again, why = _get(got, "out_again", x.shape)
    if again is None:
        return False, why
    if not np.array_equal(again, out):
        return False, (
            "two calls with the same dropout_param['seed'] gave different masks; draw "
            "the mask with numpy's global random functions (np.random.*), which the "
            "seed controls"
        )
    other, why = _get(got, "out_other_seed", x.shape)
    if other is None:
        return False, why
    if np.array_equal(other, out):
        return False, "another dropout_param['seed'] gave the same mask: the mask must be random"
    return True, ""


@TESTS(
    "a2.dropout.forward_train",
    2,
    check=_check_dropout_forward,
    hint="keep each unit with probability p and divide the kept units by p, so the "
    "expected output equals the input; the mask must have the shape of x.",
)
def dropout_forward_train(rng):
    code = (
        "from cs231n.layers import dropout_forward\n"
        "param = {'mode': 'train', 'p': p, 'seed': seed}\n"
        "o, _ = dropout_forward(x, param)\n"
        "o2, _ = dropout_forward(x, {'mode': 'train', 'p': p, 'seed': seed})\n"
        "o3, _ = dropout_forward(x, {'mode': 'train', 'p': p, 'seed': seed + 1})\n"
        "out = {'out': o, 'out_again': o2, 'out_other_seed': o3}"
    )
    return _dropout_data(rng), code


@TESTS("a2.dropout.forward_test", 1, hint="at test time inverted dropout is the identity.")
def dropout_forward_test(rng):
    code = (
        "from cs231n.layers import dropout_forward\n"
        "o, _ = dropout_forward(x, {'mode': 'test', 'p': p})\nout = {'out': o}"
    )
    return _dropout_data(rng), code


@TESTS(
    "a2.dropout.backward_train",
    1,
    hint="the gradient flows only through the kept units, scaled as in the forward pass: "
    "dout times the mask stored in the cache, which is (dropout_param, mask).",
)
def dropout_backward_train(rng):
    """The cache is the grader's (its layout, (dropout_param, mask), is the API's), with a
    random mask: a backward pass is judged against the mask it is given, never against
    the student's own forward pass (forward and backward both returning zeros agree)."""
    data = _dropout_data(rng)
    p = data["p"]
    data["mask"] = (rng.random(data["x"].shape) < p) / p
    code = (
        "from cs231n.layers import dropout_backward\n"
        "dx = dropout_backward(dout, ({'mode': 'train', 'p': p}, mask))\nout = {'dx': dx}"
    )
    return data, code


# -- convolution and pooling ---------------------------------------------------------------


def _tiled(rng, K, stride, pad):
    """An input size n that the stride tiles, H + 2 pad - K a multiple of it; and H_out."""
    out = _size(rng, 2, 4)
    while (out - 1) * stride + K - 2 * pad < 1:
        out += 1
    return (out - 1) * stride + K - 2 * pad, out


def _conv_data(rng):
    N, C, F = _size(rng, 2, 3), _size(rng, 1, 3), _size(rng, 2, 4)
    HH, WW = _size(rng, 1, 4), _size(rng, 1, 4)
    # pad < the filter size, so the first receptive field always reaches real pixels and dx
    # cannot be all zeros (a broken backward pass would otherwise pass by chance).
    stride, pad = _size(rng, 1, 3), _size(rng, 0, min(2, HH - 1, WW - 1))
    H, H_out = _tiled(rng, HH, stride, pad)
    W, W_out = _tiled(rng, WW, stride, pad)
    return {
        "x": rng.standard_normal((N, C, H, W)),
        "w": rng.standard_normal((F, C, HH, WW)),
        "b": rng.standard_normal(F),
        "conv_param": {"stride": stride, "pad": pad},
        "dout": rng.standard_normal((N, F, H_out, W_out)),
    }


@TESTS(
    "a2.conv.forward_naive",
    3,
    tol=FWD_TOL,
    hint="zero-pad H and W by 'pad' on each side; output (i, j) of filter f is the sum of "
    "w[f] times the padded receptive field starting at (i * stride, j * stride), plus "
    "b[f].",
)
def conv_forward(rng):
    code = (
        "from cs231n.layers import conv_forward_naive\n"
        "o, _ = conv_forward_naive(x, w, b, conv_param)\nout = {'out': o}"
    )
    return _conv_data(rng), code


@TESTS(
    "a2.conv.backward_naive",
    4,
    tol=BWD_TOL,
    hint="each output position sends dout back to its receptive field (through w) and to w "
    "(through the field); overlapping fields add up, and dx drops the padding. This "
    "test gives the cache the API fixes, (x, w, b, conv_param).",
)
def conv_backward(rng):
    code = (
        # The cache is the API's (x, w, b, conv_param), built here, not by the student's
        # forward pass.
        "from cs231n.layers import conv_backward_naive\n"
        "dx, dw, db = conv_backward_naive(dout, (x, w, b, conv_param))\n"
        "out = {'dx': dx, 'dw': dw, 'db': db}"
    )
    return _conv_data(rng), code


def _pool_data(rng):
    N, C = _size(rng, 2, 3), _size(rng, 1, 3)
    ph, pw = _size(rng, 1, 3), _size(rng, 1, 3)
    stride = max(ph, pw) + _size(rng, 0, 1)  # windows never overlap
    H, W = ph + stride * _size(rng, 1, 3), pw + stride * _size(rng, 1, 3)
    H_out, W_out = 1 + (H - ph) // stride, 1 + (W - pw) // stride
    return {
        "x": rng.standard_normal((N, C, H, W)),
        "pool_param": {"pool_height": ph, "pool_width": pw, "stride": stride},
        "dout": rng.standard_normal((N, C, H_out, W_out)),
    }


@TESTS(
    "a2.pool.forward_naive",
    2,
    tol=FWD_TOL,
    hint="each output is the maximum of a pool_height x pool_width window starting at "
    "(i * stride, j * stride), separately for every example and channel.",
)
def pool_forward(rng):
    code = (
        "from cs231n.layers import max_pool_forward_naive\n"
        "o, _ = max_pool_forward_naive(x, pool_param)\nout = {'out': o}"
    )
    return _pool_data(rng), code


@TESTS(
    "a2.pool.backward_naive",
    3,
    tol=BWD_TOL,
    hint="each window's gradient goes entirely to the position of its maximum; every other "
    "position gets zero. The cache given is (x, pool_param), as the API says.",
)
def pool_backward(rng):
    code = (
        # The cache is the API's (x, pool_param), not the student's forward pass.
        "from cs231n.layers import max_pool_backward_naive\n"
        "out = {'dx': max_pool_backward_naive(dout, (x, pool_param))}"
    )
    return _pool_data(rng), code


# -- spatial batch norm and group norm ------------------------------------------------------


def _spatial_data(rng, groups=False):
    N, H, W = _size(rng, 2, 4), _size(rng, 2, 5), _size(rng, 2, 5)
    G = _size(rng, 1, 3) if groups else 1
    C = G * _size(rng, 1, 3) if groups else _size(rng, 2, 5)
    loc = rng.uniform(-3, 3, (1, C, 1, 1))
    scale = rng.uniform(0.5, 3, (1, C, 1, 1))
    pshape = (1, C, 1, 1) if groups else (C,)
    data = {
        "x": loc + scale * rng.standard_normal((N, C, H, W)),
        "gamma": rng.uniform(0.5, 2, pshape),
        "beta": rng.standard_normal(pshape),
        "dout": rng.standard_normal((N, C, H, W)),
    }
    if groups:
        data["G"] = G
        data["gn_param"] = {"eps": float(rng.choice([1e-5, 1e-3]))}
    return data


@TESTS(
    "a2.spatial_batchnorm.forward",
    2,
    answer=("cs231n.layers:batchnorm_forward",),
    tol=FWD_TOL,
    hint="each channel is one feature whose examples are all N * H * W positions: reshape "
    "(transposing so the channel axis comes last) and use your batchnorm_forward, "
    "then reshape back. Train and test mode are both checked.",
    parts={
        "outputs": (["out_train", "out_test"], 1),
        "running averages": (["running_mean", "running_var"], 1),
    },
)
def spatial_bn_forward(rng):
    data = _spatial_data(rng)
    C = data["x"].shape[1]
    data["momentum"] = float(rng.uniform(0.5, 0.95))
    data["running_mean"] = rng.standard_normal(C)
    data["running_var"] = rng.uniform(0.5, 2, C)
    code = (
        "from cs231n.layers import spatial_batchnorm_forward\n"
        "bn = {'mode': 'train', 'momentum': momentum, 'running_mean': running_mean.copy(),\n"
        "      'running_var': running_var.copy()}\n"
        "o_train, _ = spatial_batchnorm_forward(x, gamma, beta, bn)\n"
        "rm, rv = bn['running_mean'], bn['running_var']\n"
        "test = {'mode': 'test', 'running_mean': running_mean, 'running_var': running_var}\n"
        "o_test, _ = spatial_batchnorm_forward(x, gamma, beta, test)\n"
        "out = {'out_train': o_train, 'running_mean': rm, 'running_var': rv,\n"
        "       'out_test': o_test}"
    )
    return data, code


@TESTS(
    "a2.spatial_batchnorm.backward",
    2,
    uses=("a2.spatial_batchnorm.forward",),
    answer=BATCHNORM,
    tol=BWD_TOL,
    hint="reshape dout the way the forward pass reshaped x, use your batchnorm backward "
    "pass, and reshape dx back to (N, C, H, W). This test runs your "
    "spatial_batchnorm_forward (train mode) first.",
)
def spatial_bn_backward(rng):
    code = (
        "from cs231n.layers import spatial_batchnorm_forward, spatial_batchnorm_backward\n"
        "_, cache = spatial_batchnorm_forward(x, gamma, beta, {'mode': 'train'})\n"
        "dx, dgamma, dbeta = spatial_batchnorm_backward(dout, cache)\n"
        "out = {'dx': dx, 'dgamma': dgamma, 'dbeta': dbeta}"
    )
    return _spatial_data(rng), code


@TESTS(
    "a2.groupnorm.forward",
    2,
    tol=FWD_TOL,
    hint="split the C channels into G groups of C // G consecutive channels; normalise each "
    "example's group over its channels and positions (like layer norm), then scale and "
    "shift per channel.",
)
def groupnorm_forward(rng):
    code = (
        "from cs231n.layers import spatial_groupnorm_forward\n"
        "o, _ = spatial_groupnorm_forward(x, gamma, beta, G, gn_param)\nout = {'out': o}"
    )
    return _spatial_data(rng, groups=True), code


@TESTS(
    "a2.groupnorm.backward",
    3,
    uses=("a2.groupnorm.forward",),
    tol=BWD_TOL,
    hint="layer norm's backward pass with the sums over each (example, group); dgamma and "
    "dbeta sum over N, H and W and keep the shape (1, C, 1, 1). This test runs your "
    "spatial_groupnorm_forward first.",
)
def groupnorm_backward(rng):
    code = (
        "from cs231n.layers import spatial_groupnorm_forward, spatial_groupnorm_backward\n"
        "_, cache = spatial_groupnorm_forward(x, gamma, beta, G, gn_param)\n"
        "dx, dgamma, dbeta = spatial_groupnorm_backward(dout, cache)\n"
        "out = {'dx': dx, 'dgamma': dgamma, 'dbeta': dbeta}"
    )
    return _spatial_data(rng, groups=True), code


# -- update rules ----------------------------------------------------------------------------


def _optim_data(rng, config):
    shape = (_size(rng, 3, 8), _size(rng, 2, 6))
    return {
        "w": rng.standard_normal(shape),
        "dws": [rng.standard_normal(shape) * rng.uniform(0.1, 3) for _ in range(3)],
        "config": config,
    }


def _optim_code(rule, keys):
    state = ", ".join(f"'{k}': config['{k}']" for k in keys)
    return (
        f"from cs231n.optim import {rule}\n"
        "ws = []\n"
        "for dw in dws:\n"
        f"    w, config = {rule}(w, dw, config)\n"
        "    ws.append(w)\n"
        f"out = {{'w': np.array(ws), {state}}}"
    )


@TESTS(
    "a2.fc.sgd_momentum",
    1,
    tol=1e-6,
    hint="v = momentum * v - learning_rate * dw, then w + v; three steps are checked, so "
    "the velocity must carry over between calls.",
)
def sgd_momentum(rng):
    config = {
        "learning_rate": float(rng.uniform(1e-3, 1e-1)),
        "momentum": float(rng.uniform(0.5, 0.99)),
    }
    return _optim_data(rng, config), _optim_code("sgd_momentum", ["velocity"])


@TESTS(
    "a2.fc.rmsprop",
    1,
    tol=1e-6,
    hint="keep a decaying average of dw ** 2 in config['cache'] and divide the step by its "
    "square root plus epsilon; three steps are checked.",
)
def rmsprop(rng):
    config = {
        "learning_rate": float(rng.uniform(1e-3, 1e-1)),
        "decay_rate": float(rng.uniform(0.9, 0.999)),
    }
    return _optim_data(rng, config), _optim_code("rmsprop", ["cache"])


@TESTS(
    "a2.fc.adam",
    2,
    tol=1e-6,
    hint="increment t before the update, keep m and v as decaying averages of dw and dw ** 2, "
    "divide them by (1 - beta1 ** t) and (1 - beta2 ** t), and step by "
    "learning_rate * m_hat / (sqrt(v_hat) + epsilon); three steps are checked.",
)
def adam(rng):
    config = {
        "learning_rate": float(rng.uniform(1e-3, 1e-1)),
        "beta1": float(rng.uniform(0.8, 0.95)),
        "beta2": float(rng.uniform(0.99, 0.9999)),
    }
    return _optim_data(rng, config), _optim_code("adam", ["m", "v", "t"])


# -- FullyConnectedNet -------------------------------------------------------------------------


def _fc_data(rng, normalization=None, dropout=False):
    N, D, C = _size(rng, 4, 8), _size(rng, 5, 12), _size(rng, 3, 6)
    hidden = [_size(rng, 4, 10) for _ in range(_size(rng, 1, 3))]
    dims = [D, *hidden, C]
    params = {}
    for i in range(1, len(dims)):
        params[f"W{i}"] = rng.standard_normal((dims[i - 1], dims[i])) / np.sqrt(dims[i - 1])
        params[f"b{i}"] = rng.standard_normal(dims[i]) * 0.1
        if normalization and i < len(dims) - 1:
            params[f"gamma{i}"] = rng.uniform(0.5, 1.5, dims[i])
            params[f"beta{i}"] = rng.standard_normal(dims[i]) * 0.1
    data = {
        "X": rng.standard_normal((N, D)),
        "y": rng.integers(0, C, N),
        "params": params,
        "hidden": hidden,
        "reg": float(rng.uniform(0.0, 0.5)),
        "normalization": normalization,
        "keep": 1.0,
    }
    if normalization == "batchnorm":
        data["running"] = [(rng.standard_normal(h), rng.uniform(0.5, 2, h)) for h in hidden]
    if dropout:
        data["keep"] = float(rng.uniform(0.3, 0.8))
        data["masks"] = [(rng.random((N, h)) < data["keep"]) / data["keep"] for h in hidden]
    return data


_FC_IMPORT = "from cs231n.classifiers.fc_net import FullyConnectedNet\n"
# The constructor's region has its own test (fc_net.init): when it is missing or fails,
# the network gets the attributes the API fixes (its parameters are set just below).
_FC_NET = """
C = params['b%d' % (len(hidden) + 1)].size
net_norm = NORM
try:
    net = FullyConnectedNet(hidden, input_dim=X.shape[1], num_classes=C,
                            dropout_keep_ratio=keep, normalization=net_norm, reg=reg,
                            dtype=np.float64, seed=0)
except Exception:
    net = FullyConnectedNet.__new__(FullyConnectedNet)
    net.normalization, net.reg, net.dtype = net_norm, reg, np.float64
    net.num_layers, net.use_dropout = len(hidden) + 1, keep != 1
    net.dropout_param = {'mode': 'train', 'p': keep, 'seed': 0} if keep != 1 else {}
    net.bn_params = [{'mode': 'train'} if net_norm == 'batchnorm' else {}
                     for _ in hidden] if net_norm else []
net.params = {k: v.copy() for k, v in params.items()}
"""
_FC_NET_LAYERNORM = _FC_NET.replace("NORM", "'layernorm'")
_FC_NET = _FC_NET.replace("NORM", "normalization")

_FC_LOSS = (
    "loss, grads = net.loss(X, y)\nout = {'loss': loss, **{'d' + k: grads[k] for k in params}}"
)

# The network's dropout layers are replaced by fixed masks: the test grades how the network
# uses dropout, apart from how the student's dropout layer draws its masks. The masks go
# into a private copy of the fc_net module, so no shared module is modified (the reference
# probes run in the grader's own process).
_FIXED_DROPOUT = """
import importlib.util
used = []
def _forward(x, dropout_param):
    if dropout_param.get('mode') != 'train':
        return x, (dropout_param, None)
    mask = masks[len(used)]
    used.append(1)
    return x * mask, (dropout_param, mask)
def _backward(dout, cache):
    return dout * cache[1]
spec = importlib.util.find_spec('cs231n.classifiers.fc_net')
fc_net = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fc_net)
fc_net.dropout_forward, fc_net.dropout_backward = _forward, _backward
FullyConnectedNet = fc_net.FullyConnectedNet
"""


@TESTS(
    "a2.fc_net.init",
    1,
    tol=1e-12,
    hint="W1..WL ~ weight_scale * N(0, 1) with shapes chaining input_dim, hidden_dims and "
    "num_classes; biases zero; with normalization, gamma1..gamma(L-1) ones and "
    "beta1..beta(L-1) zeros (no gamma or beta for the output layer).",
)
def fc_net_init(rng):
    hidden = [_size(rng, 30, 50) for _ in range(_size(rng, 1, 3))]
    data = {
        "hidden": hidden,
        "D": _size(rng, 40, 60),
        "C": _size(rng, 20, 30),
        "ws": float(rng.uniform(0.01, 0.1)),
        "normalization": str(rng.choice(["batchnorm", "layernorm"])),
    }
    code = (
        "from cs231n.classifiers.fc_net import FullyConnectedNet\n"
        "shapes, rest, stds = {}, [], []\n"
        "for norm in (None, normalization):\n"
        "    net = FullyConnectedNet(hidden, input_dim=D, num_classes=C, normalization=norm,\n"
        "                            weight_scale=ws, dtype=np.float64)\n"
        "    p, L = net.params, len(hidden) + 1\n"
        "    names = [f'{k}{i}' for i in range(1, L + 1) for k in 'Wb']\n"
        "    if norm:\n"
        "        names += [f'{k}{i}' for i in range(1, L) for k in ('gamma', 'beta')]\n"
        "    shapes[str(norm)] = np.array([len(p)] + [d for n in names for d in p[n].shape])\n"
        "    rest += [p[n].ravel() for n in names if n[0] != 'W']\n"
        "    stds += [0.7 * ws < p[f'W{i}'].std() < 1.3 * ws for i in range(1, L + 1)]\n"
        "out = {'shapes_plain': shapes['None'], 'shapes_norm': shapes[normalization],\n"
        "       'biases_gammas_betas': np.concatenate(rest), 'weight_std_ok': np.array(stds)}"
    )
    return data, code


@TESTS(
    "a2.fc_net.forward",
    2,
    answer=LAYERS,
    tol=FWD_TOL,
    hint="for each hidden layer: affine then ReLU; the last layer is affine only and gives "
    "the scores. Without y, loss returns the scores.",
)
def fc_net_forward(rng):
    return _fc_data(rng), _FC_IMPORT + _FC_NET + "out = {'scores': net.loss(X)}"


@TESTS(
    "a2.fc_net.forward.normalization",
    2,
    answer=LAYERS,
    tol=FWD_TOL,
    hint="with normalization, each hidden layer is affine - norm - ReLU, using gamma{i}, "
    "beta{i} and self.bn_params[i - 1]; in test mode batch norm uses the running "
    "averages kept in self.bn_params. The layers answer as the reference's: only the network is graded here.",
)
def fc_net_forward_norm(rng):
    data = _fc_data(rng, normalization="batchnorm")
    code = (
        _FC_IMPORT + _FC_NET + "for bn, (m, v) in zip(net.bn_params, running):\n"
        "    bn['running_mean'], bn['running_var'] = m.copy(), v.copy()\n"
        "s_bn = net.loss(X)\n"
        + _FC_NET_LAYERNORM
        + "out = {'scores_batchnorm': s_bn, 'scores_layernorm': net.loss(X)}"
    )
    return data, code


@TESTS(
    "a2.fc_net.backward",
    3,
    uses=("a2.fc_net.forward",),
    answer=LAYERS,
    tol=BWD_TOL,
    hint="softmax loss on the scores plus 0.5 * reg * the sum of squared weights (not "
    "biases); backpropagate through every layer in reverse and add reg * W to each "
    "dW.",
)
def fc_net_backward(rng):
    return _fc_data(rng), _FC_IMPORT + _FC_NET + _FC_LOSS


@TESTS(
    "a2.fc_net.backward.batchnorm",
    2,
    uses=("a2.fc_net.forward",),
    answer=LAYERS,
    tol=BWD_TOL,
    hint="backpropagate through batch norm in each hidden layer and return dgamma{i} and "
    "dbeta{i}. The layers answer as the reference's; the test runs your forward pass.",
)
def fc_net_backward_bn(rng):
    return _fc_data(rng, normalization="batchnorm"), _FC_IMPORT + _FC_NET + _FC_LOSS


@TESTS(
    "a2.fc_net.backward.layernorm",
    2,
    uses=("a2.fc_net.forward",),
    answer=LAYERS,
    tol=BWD_TOL,
    hint="backpropagate through layer norm in each hidden layer and return dgamma{i} and "
    "dbeta{i}. The layers answer as the reference's; the test runs your forward pass.",
)
def fc_net_backward_ln(rng):
    return _fc_data(rng, normalization="layernorm"), _FC_IMPORT + _FC_NET + _FC_LOSS


@TESTS(
    "a2.fc_net.backward.dropout",
    2,
    uses=("a2.fc_net.forward",),
    answer=LAYERS,
    tol=BWD_TOL,
    hint="apply dropout_forward(hidden, self.dropout_param) after every hidden ReLU (not after "
    "the output layer) and dropout_backward in reverse. Here the dropout layers are "
    "replaced by fixed masks, so only how your network uses them is graded.",
)
def fc_net_backward_dropout(rng):
    return _fc_data(rng, dropout=True), _FIXED_DROPOUT + _FC_NET + _FC_LOSS


# -- ThreeLayerConvNet ------------------------------------------------------------------------


def _cnn_data(rng):
    C, H, W = _size(rng, 1, 3), 2 * _size(rng, 2, 4), 2 * _size(rng, 2, 4)
    F, fs, hidden, classes = (
        _size(rng, 2, 5),
        int(rng.choice([3, 5])),
        _size(rng, 5, 10),
        _size(rng, 3, 6),
    )
    N = _size(rng, 2, 4)
    shapes = {
        "W1": (F, C, fs, fs),
        "b1": (F,),
        "W2": (F * H * W // 4, hidden),
        "b2": (hidden,),
        "W3": (hidden, classes),
        "b3": (classes,),
    }
    fan_in = {"W1": C * fs * fs, "W2": F * H * W // 4, "W3": hidden}
    params = {
        k: rng.standard_normal(s) * (0.1 if k[0] == "b" else 1 / np.sqrt(fan_in[k]))
        for k, s in shapes.items()
    }
    return {
        "X": rng.standard_normal((N, C, H, W)),
        "y": rng.integers(0, classes, N),
        "params": params,
        "reg": float(rng.uniform(0.0, 0.5)),
        "dims": {
            "input_dim": (C, H, W),
            "num_filters": F,
            "filter_size": fs,
            "hidden_dim": hidden,
            "num_classes": classes,
        },
    }


# (As for FullyConnectedNet: the constructor's region has its own test.)
_CNN = """
from cs231n.classifiers.cnn import ThreeLayerConvNet
try:
    net = ThreeLayerConvNet(**dims, reg=reg, dtype=np.float64)
except Exception:
    net = ThreeLayerConvNet.__new__(ThreeLayerConvNet)
    net.params, net.reg, net.dtype = {}, reg, np.float64
net.params = {k: v.copy() for k, v in params.items()}
"""


@TESTS(
    "a2.cnn.init",
    1,
    tol=1e-12,
    hint="W1 (F, C, filter_size, filter_size), W2 (F * H/2 * W/2, hidden_dim), W3 "
    "(hidden_dim, num_classes), Gaussian with standard deviation weight_scale; biases "
    "zero.",
)
def cnn_init(rng):
    data = {
        "dims": {
            "input_dim": (3, 2 * _size(rng, 4, 8), 2 * _size(rng, 4, 8)),
            "num_filters": _size(rng, 8, 16),
            "filter_size": int(rng.choice([3, 5, 7])),
            "hidden_dim": _size(rng, 20, 40),
            "num_classes": _size(rng, 20, 30),
        },
        "ws": float(rng.uniform(0.01, 0.1)),
    }
    code = (
        "from cs231n.classifiers.cnn import ThreeLayerConvNet\n"
        "p = ThreeLayerConvNet(**dims, weight_scale=ws, dtype=np.float64).params\n"
        "names = ['W1', 'b1', 'W2', 'b2', 'W3', 'b3']\n"
        "out = {'shapes': np.array([len(p)] + [d for n in names for d in p[n].shape]),\n"
        "       'biases': np.concatenate([p[n] for n in ('b1', 'b2', 'b3')]),\n"
        "       'weight_std_ok': np.array([0.7 * ws < p[n].std() < 1.3 * ws\n"
        "                                  for n in ('W1', 'W2', 'W3')])}"
    )
    return data, code


@TESTS(
    "a2.cnn.forward",
    2,
    answer=LAYERS,
    tol=FWD_TOL,
    hint="conv (stride 1, 'same' padding) - ReLU - 2x2 max pool - affine - ReLU - affine; "
    "the sandwich layers in layer_utils do most of the work.",
)
def cnn_forward(rng):
    return _cnn_data(rng), _CNN + "out = {'scores': net.loss(X)}"


@TESTS(
    "a2.cnn.backward",
    3,
    uses=("a2.cnn.forward",),
    answer=LAYERS,
    tol=BWD_TOL,
    hint="softmax loss plus 0.5 * reg * the squared weights W1, W2 and W3; backpropagate "
    "through the layers in reverse and add reg * W to each dW.",
)
def cnn_backward(rng):
    return _cnn_data(rng), _CNN + (
        "loss, grads = net.loss(X, y)\nout = {'loss': loss, **{'d' + k: grads[k] for k in params}}"
    )
