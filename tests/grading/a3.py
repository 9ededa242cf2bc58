"""Grading tests for assignment 3 (RNN and LSTM layers, CaptioningRNN, network visualization).

One test per region a student writes, forward and backward separately. Each test draws
fresh shapes and values; backward tests run the student's own forward pass for the
cache (the hints say so). The captioning model's parameters are set explicitly and the
network-visualization tests use a small ``PretrainedCNN`` with fresh random weights
(set explicitly too), so no test depends on the shipped weights or on how anything is
initialised.
"""

import numpy as np

from cs231n.instructor.grade import Registry, run_probe

TESTS = Registry()

# What a test calls but does not grade answers with the reference's values
# (cs231n.instructor.answers): a model's layers, a recurrent layer's steps, the network a
# visualization runs. A backward pass whose cache the student designs runs the student's
# own forward pass (its time loop), with the steps inside answered.
LAYERS = ("cs231n.layer_utils:*",)
RECURRENT = (*LAYERS, "cs231n.rnn_layers:*")
TRANSFORMER = (*RECURRENT, "cs231n.transformer_layers:*")

FWD_TOL = 1e-6
BWD_TOL = 1e-6


def _size(rng, lo, hi):
    return int(rng.integers(lo, hi + 1))


def _normal(rng, shape, scale=1.0):
    return scale * rng.standard_normal(shape)


# -- vanilla RNN -------------------------------------------------------------------------


def _rnn_data(rng, gates=1, sequence=False):
    N, D, H = _size(rng, 2, 5), _size(rng, 3, 8), _size(rng, 3, 7)
    T = _size(rng, 2, 6)
    shape_x = (N, T, D) if sequence else (N, D)
    data = {
        "x": _normal(rng, shape_x),
        "h0": _normal(rng, (N, H)),
        "Wx": _normal(rng, (D, gates * H), 1 / np.sqrt(D)),
        "Wh": _normal(rng, (H, gates * H), 1 / np.sqrt(H)),
        "b": _normal(rng, gates * H, 0.3),
        "dout": _normal(rng, (N, T, H) if sequence else (N, H)),
    }
    if gates == 4:
        data["c0"] = _normal(rng, (N, H))
        data["dc"] = _normal(rng, (N, H))
    return data


@TESTS("a3.rnn.step_forward", 1, tol=FWD_TOL, hint="next_h = tanh(x Wx + prev_h Wh + b).")
def rnn_step_forward(rng):
    code = (
        "from cs231n.rnn_layers import rnn_step_forward\n"
        "h, _ = rnn_step_forward(x, h0, Wx, Wh, b)\nout = {'next_h': h}"
    )
    return _rnn_data(rng), code


@TESTS(
    "a3.rnn.step_backward",
    2,
    uses=("a3.rnn.step_forward",),
    tol=BWD_TOL,
    hint="the derivative of tanh(a) is 1 - tanh(a) ** 2 (next_h is tanh(a)); from da "
    "follow the two matrix products back to x, prev_h, Wx and Wh, and sum da over the "
    "batch for b. This test runs your rnn_step_forward first.",
)
def rnn_step_backward(rng):
    code = (
        "from cs231n.rnn_layers import rnn_step_forward, rnn_step_backward\n"
        "_, cache = rnn_step_forward(x, h0, Wx, Wh, b)\n"
        "dx, dh, dWx, dWh, db = rnn_step_backward(dout, cache)\n"
        "out = {'dx': dx, 'dprev_h': dh, 'dWx': dWx, 'dWh': dWh, 'db': db}"
    )
    return _rnn_data(rng), code


@TESTS(
    "a3.rnn.forward",
    2,
    answer=("cs231n.rnn_layers:rnn_step_forward",),
    tol=FWD_TOL,
    hint="run rnn_step_forward once per time step, feeding each step's hidden state to "
    "the next, starting from h0, and store every hidden state in h[:, t, :].",
)
def rnn_forward(rng):
    code = (
        "from cs231n.rnn_layers import rnn_forward\n"
        "h, _ = rnn_forward(x, h0, Wx, Wh, b)\nout = {'h': h}"
    )
    return _rnn_data(rng, sequence=True), code


@TESTS(
    "a3.rnn.backward",
    3,
    uses=("a3.rnn.forward",),
    answer=("cs231n.rnn_layers:rnn_step_forward", "cs231n.rnn_layers:rnn_step_backward"),
    tol=BWD_TOL,
    hint="walk the time steps in reverse: the gradient reaching h[:, t] is dh[:, t] plus "
    "what step t + 1 sent back to its prev_h; the weight gradients add up over the "
    "steps. This test runs your rnn_forward first.",
)
def rnn_backward(rng):
    code = (
        "from cs231n.rnn_layers import rnn_forward, rnn_backward\n"
        "_, cache = rnn_forward(x, h0, Wx, Wh, b)\n"
        "dx, dh0, dWx, dWh, db = rnn_backward(dout, cache)\n"
        "out = {'dx': dx, 'dh0': dh0, 'dWx': dWx, 'dWh': dWh, 'db': db}"
    )
    return _rnn_data(rng, sequence=True), code


def _embedding_data(rng):
    N, T, V, D = _size(rng, 2, 5), _size(rng, 3, 8), _size(rng, 4, 9), _size(rng, 3, 6)
    return {
        "x": rng.integers(0, V, (N, T)),
        "W": _normal(rng, (V, D)),
        "dout": _normal(rng, (N, T, D)),
    }


@TESTS(
    "a3.rnn.word_embedding_forward",
    1,
    tol=FWD_TOL,
    hint="out[n, t] is the row of W for the word index x[n, t].",
)
def word_embedding_forward(rng):
    code = (
        "from cs231n.rnn_layers import word_embedding_forward\n"
        "o, _ = word_embedding_forward(x, W)\nout = {'out': o}"
    )
    return _embedding_data(rng), code


@TESTS(
    "a3.rnn.word_embedding_backward",
    2,
    uses=("a3.rnn.word_embedding_forward",),
    tol=BWD_TOL,
    hint="dW[v] sums dout[n, t] over every position where x[n, t] == v; a word that "
    "appears several times must accumulate all of them (see np.add.at). This test "
    "runs your word_embedding_forward first.",
)
def word_embedding_backward(rng):
    code = (
        "from cs231n.rnn_layers import word_embedding_forward, word_embedding_backward\n"
        "_, cache = word_embedding_forward(x, W)\n"
        "out = {'dW': word_embedding_backward(dout, cache)}"
    )
    return _embedding_data(rng), code


# -- LSTM ------------------------------------------------------------------------------------

_GATES = "the columns of x Wx + prev_h Wh + b are the gates i, f, o and g, in that order"


@TESTS(
    "a3.lstm.step_forward",
    2,
    tol=FWD_TOL,
    hint=f"{_GATES}: sigmoid for i, f and o, tanh for g; next_c = f * prev_c + i * g and "
    "next_h = o * tanh(next_c).",
)
def lstm_step_forward(rng):
    code = (
        "from cs231n.rnn_layers import lstm_step_forward\n"
        "h, c, _ = lstm_step_forward(x, h0, c0, Wx, Wh, b)\nout = {'next_h': h, 'next_c': c}"
    )
    return _rnn_data(rng, gates=4), code


@TESTS(
    "a3.lstm.step_backward",
    3,
    uses=("a3.lstm.step_forward",),
    tol=BWD_TOL,
    hint="next_c receives gradient both from dnext_c and through next_h = o * "
    "tanh(next_c); then go through each gate's nonlinearity to the (N, 4H) "
    "pre-activation, and from there as in the RNN step. This test runs your "
    "lstm_step_forward first.",
)
def lstm_step_backward(rng):
    code = (
        "from cs231n.rnn_layers import lstm_step_forward, lstm_step_backward\n"
        "_, _, cache = lstm_step_forward(x, h0, c0, Wx, Wh, b)\n"
        "dx, dh, dc, dWx, dWh, db = lstm_step_backward(dout, dc, cache)\n"
        "out = {'dx': dx, 'dprev_h': dh, 'dprev_c': dc, 'dWx': dWx, 'dWh': dWh, 'db': db}"
    )
    return _rnn_data(rng, gates=4), code


@TESTS(
    "a3.lstm.forward",
    2,
    answer=("cs231n.rnn_layers:lstm_step_forward",),
    tol=FWD_TOL,
    hint="run lstm_step_forward at every time step from h0 and an initial cell state of "
    "zeros; return every hidden state (not the cell states).",
)
def lstm_forward(rng):
    code = (
        "from cs231n.rnn_layers import lstm_forward\n"
        "h, _ = lstm_forward(x, h0, Wx, Wh, b)\nout = {'h': h}"
    )
    return _rnn_data(rng, gates=4, sequence=True), code


@TESTS(
    "a3.lstm.backward",
    3,
    uses=("a3.lstm.forward",),
    answer=("cs231n.rnn_layers:lstm_step_forward", "cs231n.rnn_layers:lstm_step_backward"),
    tol=BWD_TOL,
    hint="as for the RNN, in reverse time, carrying both the hidden-state and the "
    "cell-state gradients from step t + 1 to step t (the last cell state gets no "
    "upstream gradient). This test runs your lstm_forward first.",
)
def lstm_backward(rng):
    code = (
        "from cs231n.rnn_layers import lstm_forward, lstm_backward\n"
        "_, cache = lstm_forward(x, h0, Wx, Wh, b)\n"
        "dx, dh0, dWx, dWh, db = lstm_backward(dout, cache)\n"
        "out = {'dx': dx, 'dh0': dh0, 'dWx': dWx, 'dWh': dWh, 'db': db}"
    )
    return _rnn_data(rng, gates=4, sequence=True), code


# -- CaptioningRNN -----------------------------------------------------------------------------


def _random_captions(rng, N, T, V):
    """N captions of T tokens: <START>, words, <END>, then <NULL> padding of random length."""
    captions = np.zeros((N, T), dtype=np.int64)
    for n in range(N):
        length = _size(rng, 1, T - 2)
        captions[n, 0] = 1
        captions[n, 1 : length + 1] = rng.integers(3, V, length)
        captions[n, length + 1] = 2
    return captions


def _captioning_data(rng, cell_type):
    V = _size(rng, 6, 12)
    words = ["<NULL>", "<START>", "<END>"] + [f"w{i}" for i in range(3, V)]
    word_to_idx = {w: i for i, w in enumerate(words)}
    N, D, Wd, H = _size(rng, 2, 5), _size(rng, 4, 10), _size(rng, 3, 8), _size(rng, 3, 8)
    T = _size(rng, 4, 9)
    g = 4 if cell_type == "lstm" else 1
    params = {
        "W_embed": _normal(rng, (V, Wd)),
        "W_proj": _normal(rng, (D, H), 1 / np.sqrt(D)),
        "b_proj": _normal(rng, H, 0.1),
        "Wx": _normal(rng, (Wd, g * H), 1 / np.sqrt(Wd)),
        "Wh": _normal(rng, (H, g * H), 1 / np.sqrt(H)),
        "b": _normal(rng, g * H, 0.1),
        "W_vocab": _normal(rng, (H, V), 1 / np.sqrt(H)),
        "b_vocab": _normal(rng, V, 0.1),
    }
    captions = _random_captions(rng, N, T, V)
    return {
        "word_to_idx": word_to_idx,
        "cell_type": cell_type,
        "params": params,
        "features": _normal(rng, (N, D)),
        "captions": captions,
        "max_length": _size(rng, 4, 10),
    }


_CAPTIONING = """
from cs231n.classifiers.rnn import CaptioningRNN
W, H = params['Wx'].shape[0], params['Wh'].shape[0]
model = CaptioningRNN(word_to_idx, input_dim=features.shape[1], wordvec_dim=W, hidden_dim=H,
                      cell_type=cell_type, dtype=np.float64)
model.params = {k: v.copy() for k, v in params.items()}
"""

_LOSS = (
    "loss, grads = model.loss(features, captions)\n"
    "out = {'loss': loss, **{'d' + k: grads[k] for k in params}}"
)

_LOSS_HINT = (
    "features -> initial hidden state (affine), captions_in -> word vectors, the "
    "recurrent layer over time, temporal affine to vocabulary scores, temporal softmax "
    "loss with the mask; then every backward pass in reverse. The {cell} and other layers "
    "answer as the reference's: only the model is graded here."
)


def _loss_parts(loss_points, grad_points):
    """The loss and the parameters' gradients (outputs d<name>) score separately."""
    return {"loss": (["loss"], loss_points), "gradients": (["d*"], grad_points)}


@TESTS(
    "a3.captioning.loss",
    3,
    answer=RECURRENT,
    tol=BWD_TOL,
    hint=_LOSS_HINT.format(cell="RNN"),
    parts=_loss_parts(1, 2),
)
def captioning_loss_rnn(rng):
    return _captioning_data(rng, "rnn"), _CAPTIONING + _LOSS


@TESTS(
    "a3.captioning.loss.lstm",
    2,
    answer=RECURRENT,
    tol=BWD_TOL,
    hint=_LOSS_HINT.format(cell="LSTM"),
    parts=_loss_parts(1, 1),
)
def captioning_loss_lstm(rng):
    return _captioning_data(rng, "lstm"), _CAPTIONING + _LOSS


_SAMPLE_HINT = (
    "start from h0 = features W_proj + b_proj (and a zero cell state for the LSTM) and the "
    "<START> word; at each step embed the previous word, take one {cell} step, score the "
    "vocabulary and keep the highest-scoring word; once a caption has produced <END>, the "
    "rest of its row stays <NULL>. The layers answer as the reference's."
)


def _sample(rng, cell_type):
    data = _captioning_data(rng, cell_type)
    data["params"]["b_vocab"][2] += rng.uniform(0, 1.5)  # some captions end early
    code = _CAPTIONING + "out = {'captions': model.sample(features, max_length=max_length)}"
    return data, code


@TESTS(
    "a3.captioning.sample",
    2,
    exact=True,
    answer=RECURRENT,
    hint=_SAMPLE_HINT.format(cell="RNN"),
)
def captioning_sample_rnn(rng):
    return _sample(rng, "rnn")


@TESTS(
    "a3.captioning.sample.lstm",
    1,
    exact=True,
    answer=RECURRENT,
    hint=_SAMPLE_HINT.format(cell="LSTM"),
)
def captioning_sample_lstm(rng):
    return _sample(rng, "lstm")


# -- network visualization ---------------------------------------------------------------------


def _cnn_data(rng, N=1):
    """A small PretrainedCNN's architecture and fresh random weights, and images for it."""
    from cs231n.classifiers.pretrained_cnn import PretrainedCNN

    arch = {
        "input_dim": (3, 8 * _size(rng, 1, 2), 8 * _size(rng, 1, 2)),
        "num_filters": (_size(rng, 3, 5), _size(rng, 4, 6), _size(rng, 4, 8)),
        "hidden_dim": _size(rng, 8, 16),
        "num_classes": _size(rng, 4, 8),
    }
    shapes = PretrainedCNN(**arch).param_shapes()
    params = {}
    for name, shape in shapes.items():
        fan_in = int(np.prod(shape[1:])) if len(shape) == 4 else shape[0]
        scale = 0.1 if name[0] == "b" else np.sqrt(2.0 / fan_in)
        params[name] = _normal(rng, shape, scale)
    return {"arch": arch, "params": params, "X": _normal(rng, (N, *arch["input_dim"]))}


_MODEL = """
from cs231n.classifiers.pretrained_cnn import PretrainedCNN
model = PretrainedCNN(**arch, dtype=np.float64)
model.params = {k: v.copy() for k, v in params.items()}
"""


def _reference_scores(data):
    from cs231n.classifiers.pretrained_cnn import PretrainedCNN

    model = PretrainedCNN(**data["arch"], dtype=np.float64)
    model.params = data["params"]
    return model.forward(data["X"])[0]


@TESTS(
    "a3.netvis.saliency",
    2,
    answer=LAYERS,
    tol=FWD_TOL,
    hint="backpropagate a gradient of 1 on each image's correct-class score (0 elsewhere) "
    "to the image, then take the absolute value and its maximum over the colour "
    "channels: one (H, W) map per image.",
)
def saliency(rng):
    data = _cnn_data(rng, N=_size(rng, 2, 4))
    data["y"] = rng.integers(0, data["arch"]["num_classes"], data["X"].shape[0])
    code = (
        _MODEL + "from cs231n.net_visualization import compute_saliency_maps\n"
        "out = {'saliency': compute_saliency_maps(X, y, model)}"
    )
    return data, code


@TESTS(
    "a3.netvis.fooling",
    2,
    answer=LAYERS,
    tol=FWD_TOL,
    hint="loop: if the model already predicts target_y, stop; otherwise add learning_rate "
    "* g / ||g|| to the image, with g the gradient of the target score with respect "
    "to the image; count the steps in num_steps and stop after max_iter.",
)
def fooling(rng):
    code = (
        _MODEL + "from cs231n.net_visualization import make_fooling_image\n"
        "X_f, steps = make_fooling_image(X, target_y, model, learning_rate=learning_rate,\n"
        "                                max_iter=20, return_steps=True)\n"
        "out = {'X_fooling': X_f, 'num_steps': steps}"
    )
    for _ in range(20):
        data = _cnn_data(rng)
        # The runner-up class: about two runs in three reach it within max_iter steps, so
        # both the stopping rule and the full loop get checked.
        data["target_y"] = int(np.argsort(_reference_scores(data)[0])[-2])
        data["learning_rate"] = float(rng.uniform(1.0, 3.0))
        with np.errstate(all="ignore"):
            if np.all(np.isfinite(run_probe(code, data)["X_fooling"])):
                break  # (a network whose target score has zero gradient is drawn again)
    return data, code


@TESTS(
    "a3.netvis.class_visualization",
    2,
    answer=LAYERS,
    tol=FWD_TOL,
    hint="the objective is s_y(img) - l2_reg * ||img||^2: its gradient is the score's "
    "gradient minus 2 * l2_reg * img; step by learning_rate * g / ||g|| and update "
    "img in place (img += ...), since the caller ignores the return value.",
)
def class_visualization(rng):
    data = _cnn_data(rng)
    data["target_y"] = int(rng.integers(0, data["arch"]["num_classes"]))
    data["l2_reg"] = float(rng.uniform(1e-3, 1e-1))
    data["learning_rate"] = float(rng.uniform(0.5, 2.0))
    code = (
        _MODEL + "from cs231n.net_visualization import class_visualization_update_step\n"
        "img = X.copy()\n"
        "for _ in range(3):\n"
        "    class_visualization_update_step(img, model, target_y, l2_reg, learning_rate)\n"
        "out = {'img': img}"
    )
    return data, code


@TESTS(
    "a3.netvis.tv_loss",
    2,
    tol=FWD_TOL,
    hint="sum the squared differences of vertically and of horizontally neighbouring "
    "pixels, times tv_weight; each difference sends +2 * tv_weight * diff to one "
    "pixel of the pair and -2 * tv_weight * diff to the other.",
)
def tv_loss(rng):
    shape = (_size(rng, 1, 3), _size(rng, 1, 3), _size(rng, 2, 6), _size(rng, 2, 6))
    data = {"img": _normal(rng, shape), "tv_weight": float(rng.uniform(1e-3, 1.0))}
    code = (
        "from cs231n.net_visualization import tv_loss\n"
        "loss, dimg = tv_loss(img, tv_weight)\nout = {'loss': loss, 'dimg': dimg}"
    )
    return data, code


@TESTS(
    "a3.netvis.feature_inversion",
    2,
    answer=(*LAYERS, "cs231n.net_visualization:tv_loss"),
    tol=FWD_TOL,
    hint="the objective is ||phi(img) - target_feats||^2 + tv_loss(img); backpropagate "
    "2 * (phi(img) - target_feats) from the chosen layer to the image, add the TV "
    "gradient, step by learning_rate * g / ||g|| in place, and return the objective "
    "before the step.",
)
def feature_inversion(rng):
    data = _cnn_data(rng, N=2)
    data["layer"] = int(rng.integers(0, 4))
    data["tv_weight"] = float(rng.uniform(1e-3, 1e-1))
    data["learning_rate"] = float(rng.uniform(0.5, 2.0))
    code = (
        _MODEL + "from cs231n.net_visualization import feature_inversion_update_step\n"
        "target, _ = model.forward(X[1:], end=layer)\n"
        "img, losses = X[:1].copy(), []\n"
        "for _ in range(3):\n"
        "    losses.append(feature_inversion_update_step(img, target, layer, model,\n"
        "                                                learning_rate, tv_weight))\n"
        "out = {'img': img, 'losses': np.array(losses, dtype=float)}"
    )
    return data, code


# -- Transformer ---------------------------------------------------------------------------


def _attention_data(rng, masked=True):
    N, H, d = _size(rng, 1, 3), _size(rng, 1, 3), _size(rng, 2, 5)
    S, T = _size(rng, 2, 6), _size(rng, 2, 6)
    mask = rng.random((S, T)) < 0.7
    mask[np.arange(S), rng.integers(0, T, S)] = True  # every query sees a key
    return {
        "q": _normal(rng, (N, H, S, d)),
        "k": _normal(rng, (N, H, T, d)),
        "v": _normal(rng, (N, H, T, d)),
        "mask": mask if masked else None,
        "dout": _normal(rng, (N, H, S, d)),
    }


@TESTS(
    "a3.transformer.attention_forward",
    2,
    tol=FWD_TOL,
    hint="scores = q k^T / sqrt(d) for every head; masked scores become -inf before a "
    "softmax over the keys; the output is the weights times v.",
)
def transformer_attention_forward(rng):
    code = (
        "from cs231n.transformer_layers import attention_forward\n"
        "o, _ = attention_forward(q, k, v, mask)\nout = {'out': o}"
    )
    return _attention_data(rng), code


@TESTS(
    "a3.transformer.attention_backward",
    3,
    tol=BWD_TOL,
    hint="dv = weights^T dout; dweights = dout v^T; the softmax backward of each row is "
    "w * (dw - sum(dw * w)); then the two matrix products back to q and k, each scaled by "
    "1 / sqrt(d). The cache given is the documented (q, k, v, weights, None, mask).",
)
def transformer_attention_backward(rng):
    """The cache is built here with the attention weights as numbers (the layout is the
    one attention_forward documents), so this test never runs the student's forward."""
    data = _attention_data(rng)
    q, k, mask = data["q"], data["k"], data["mask"]
    scores = q @ k.swapaxes(-1, -2) / np.sqrt(q.shape[3])
    scores = np.where(mask, scores, -np.inf)
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    data["weights"] = weights / weights.sum(axis=-1, keepdims=True)
    code = (
        "from cs231n.transformer_layers import attention_backward\n"
        "cache = (q, k, v, weights, None, mask)\n"
        "dq, dk, dv = attention_backward(dout, cache)\nout = {'dq': dq, 'dk': dk, 'dv': dv}"
    )
    return data, code


def _multihead_data(rng):
    H, d = _size(rng, 1, 3), _size(rng, 2, 4)
    E = H * d
    N, S, T = _size(rng, 1, 3), _size(rng, 2, 5), _size(rng, 2, 5)
    params = {
        name: _normal(rng, (E, E) if name[0] == "W" else E, 1 / np.sqrt(E))
        for name in ("Wq", "bq", "Wk", "bk", "Wv", "bv", "Wo", "bo")
    }
    mask = rng.random((S, T)) < 0.7
    mask[:, 0] = True
    return {
        "query": _normal(rng, (N, S, E)),
        "memory": _normal(rng, (N, T, E)),
        "params": params,
        "num_heads": H,
        "mask": mask,
        "dout": _normal(rng, (N, S, E)),
    }


@TESTS(
    "a3.transformer.multihead_forward",
    2,
    answer=(*LAYERS, "cs231n.transformer_layers:attention_forward"),
    tol=FWD_TOL,
    hint="project query, key and value with their affine layers, split E into num_heads "
    "heads of E / num_heads features (head h gets features h*d .. (h+1)*d - 1), attend, "
    "merge the heads back and apply the output projection. Attention answers as the reference's.",
)
def transformer_multihead_forward(rng):
    code = (
        "from cs231n.transformer_layers import multihead_attention_forward\n"
        "o, _ = multihead_attention_forward(query, memory, memory, params, num_heads, mask)\n"
        "out = {'out': o}"
    )
    return _multihead_data(rng), code


@TESTS(
    "a3.transformer.multihead_backward",
    3,
    uses=("a3.transformer.multihead_forward",),
    answer=(
        *LAYERS,
        "cs231n.transformer_layers:attention_forward",
        "cs231n.transformer_layers:attention_backward",
    ),
    tol=BWD_TOL,
    hint="the forward pass in reverse: output projection, merge of the heads (its "
    "backward is a split), attention backward, the three input projections. This test "
    "runs your multihead_attention_forward first (attention answers as the reference's).",
)
def transformer_multihead_backward(rng):
    code = (
        "from cs231n.transformer_layers import multihead_attention_forward, "
        "multihead_attention_backward\n"
        "_, cache = multihead_attention_forward(query, memory, memory, params, num_heads, mask)\n"
        "dq, dk, dv, g = multihead_attention_backward(dout, cache)\n"
        "out = {'dquery': dq, 'dkey': dk, 'dvalue': dv, **{'d' + n: g[n] for n in params}}"
    )
    return _multihead_data(rng), code


@TESTS(
    "a3.transformer.positional_encoding",
    1,
    tol=FWD_TOL,
    hint="P[t, 2i] = sin(t / 10000^(2i / E)) and P[t, 2i + 1] = cos(t / 10000^(2i / E)).",
)
def transformer_positional_encoding(rng):
    data = {"max_len": _size(rng, 1, 40), "dim": 2 * _size(rng, 1, 8)}
    code = (
        "from cs231n.transformer_layers import positional_encoding\n"
        "out = {'P': positional_encoding(max_len, dim)}"
    )
    return data, code


@TESTS(
    "a3.transformer.captioning_loss",
    3,
    answer=TRANSFORMER,
    tol=BWD_TOL,
    parts=_loss_parts(1, 2),
    hint="run the forward pass (self._forward), the temporal softmax loss with the mask, "
    "then every backward pass in reverse: vocabulary affine, the decoder layers from the "
    "last to the first (each adds to the memory's gradient), the positional encoding, the "
    "word embedding, and the image projection. The layers answer as the reference's.",
)
def transformer_captioning_loss(rng):
    from cs231n.classifiers.transformer import CaptioningTransformer

    V = _size(rng, 6, 12)
    word_to_idx = {w: i for i, w in enumerate(["<NULL>", "<START>", "<END>"])}
    word_to_idx.update({f"w{i}": i for i in range(3, V)})
    heads = _size(rng, 1, 2)
    E, D, N, T = 2 * heads * _size(rng, 1, 3), _size(rng, 3, 8), _size(rng, 2, 4), _size(rng, 4, 8)
    layers = _size(rng, 1, 2)
    shapes = {
        k: v.shape
        for k, v in CaptioningTransformer(
            word_to_idx, D, E, heads, layers, ffn_dim=E + 2, dtype=np.float64
        ).params.items()
    }
    params = {k: _normal(rng, s, 1 / np.sqrt(s[0])) for k, s in shapes.items()}
    captions = _random_captions(rng, N, T, V)
    data = {
        "word_to_idx": word_to_idx,
        "arch": [D, E, heads, layers, E + 2],
        "params": params,
        "features": _normal(rng, (N, D)),
        "captions": captions,
    }
    code = (
        "from cs231n.classifiers.transformer import CaptioningTransformer\n"
        "D, E, heads, layers, F = arch\n"
        "model = CaptioningTransformer(word_to_idx, D, E, heads, layers, ffn_dim=F,"
        " dtype=np.float64)\n"
        "model.params = {k: v.copy() for k, v in params.items()}\n" + _LOSS
    )
    return data, code
