"""The official CS231n notebooks (2024-2026 editions) import through these module paths,
many with ``from <module> import *``; each must bring the same names as the original
starter code does, or the notebooks' check cells stop on a NameError.

The lists are the names the original modules define or re-export (by star-importing
``layers``, ``fast_layers``, ``layer_utils``, ``rnn_layers`` and the linear losses) that
the notebooks use. Left out on purpose: names of the PyTorch-based notebooks
(``load_imagenet_val``, ``preprocess_image``, SqueezeNet statistics), which this numpy
course replaces, and ``np``, which every notebook imports itself.
"""

import importlib

import pytest

LAYERS = """affine_forward affine_backward relu_forward relu_backward svm_loss softmax_loss
batchnorm_forward batchnorm_backward batchnorm_backward_alt layernorm_forward
layernorm_backward dropout_forward dropout_backward conv_forward_naive conv_backward_naive
max_pool_forward_naive max_pool_backward_naive spatial_batchnorm_forward
spatial_batchnorm_backward spatial_groupnorm_forward spatial_groupnorm_backward""".split()
FAST_LAYERS = """conv_forward_fast conv_backward_fast max_pool_forward_fast max_pool_backward_fast
conv_forward_strides conv_backward_strides conv_forward_im2col conv_backward_im2col
max_pool_forward_reshape max_pool_backward_reshape max_pool_forward_im2col
max_pool_backward_im2col""".split()
SANDWICHES = """affine_relu_forward affine_relu_backward conv_relu_forward conv_relu_backward
conv_relu_pool_forward conv_relu_pool_backward conv_bn_relu_forward
conv_bn_relu_backward""".split()
RNN_LAYERS = """rnn_step_forward rnn_step_backward rnn_forward rnn_backward
word_embedding_forward word_embedding_backward sigmoid lstm_step_forward lstm_step_backward
lstm_forward lstm_backward temporal_affine_forward temporal_affine_backward
temporal_softmax_loss""".split()
LINEAR_LOSSES = (
    "svm_loss_naive svm_loss_vectorized softmax_loss_naive softmax_loss_vectorized".split()
)

STAR_IMPORTS = {
    "cs231n.layers": LAYERS,
    "cs231n.fast_layers": FAST_LAYERS,
    "cs231n.layer_utils": SANDWICHES + LAYERS + FAST_LAYERS,
    "cs231n.classifiers.fc_net": ["TwoLayerNet", "FullyConnectedNet"]
    + SANDWICHES
    + LAYERS
    + FAST_LAYERS,
    "cs231n.classifiers.cnn": ["ThreeLayerConvNet"] + SANDWICHES + LAYERS + FAST_LAYERS,
    "cs231n.rnn_layers": RNN_LAYERS,
    "cs231n.classifiers.rnn": ["CaptioningRNN"] + RNN_LAYERS,
    "cs231n.classifiers": ["KNearestNeighbor", "LinearClassifier", "LinearSVM", "Softmax"]
    + LINEAR_LOSSES,
    "cs231n.classifiers.linear_classifier": ["LinearClassifier", "LinearSVM", "Softmax"]
    + LINEAR_LOSSES,
    "cs231n.classifiers.linear_svm": ["svm_loss_naive", "svm_loss_vectorized"],
    "cs231n.classifiers.softmax": ["softmax_loss_naive", "softmax_loss_vectorized"],
    "cs231n.classifiers.k_nearest_neighbor": ["KNearestNeighbor"],
    "cs231n.gradient_check": """eval_numerical_gradient eval_numerical_gradient_array
        eval_numerical_gradient_blobs grad_check_sparse""".split(),
    "cs231n.optim": ["sgd", "sgd_momentum", "rmsprop", "adam"],
    "cs231n.features": ["extract_features", "rgb2gray", "hog_feature", "color_histogram_hsv"],
    "cs231n.vis_utils": ["visualize_grid", "vis_grid", "vis_nn"],
    "cs231n.solver": ["Solver"],
    "cs231n.captioning_solver": ["CaptioningSolver"],
    "cs231n.coco_utils": ["load_coco_data", "decode_captions", "sample_coco_minibatch"],
}

# Imported by name (``from cs231n.data_utils import get_CIFAR10_data``), not starred.
BY_NAME = {
    "cs231n.data_utils": ["load_CIFAR_batch", "load_CIFAR10", "get_CIFAR10_data"],
    "cs231n.image_utils": ["image_from_url", "load_image"],
    "cs231n.gradient_check": ["rel_error"],
}


@pytest.mark.parametrize("module", sorted(STAR_IMPORTS))
def test_star_import_brings_the_original_names(module):
    namespace = {}
    exec(f"from {module} import *", namespace)  # what a notebook cell does
    missing = [name for name in STAR_IMPORTS[module] if name not in namespace]
    assert not missing, f"`from {module} import *` lacks {missing}"
    # The same objects as their home modules: a re-export, not a copy.
    for name in STAR_IMPORTS[module]:
        home = namespace[name].__module__
        assert getattr(importlib.import_module(home), name) is namespace[name]


@pytest.mark.parametrize("module", sorted(BY_NAME))
def test_names_imported_by_name_exist(module):
    mod = importlib.import_module(module)
    assert [n for n in BY_NAME[module] if not hasattr(mod, n)] == []


def test_fc_net_star_import_runs_a_two_layer_net_check_cell():
    """The failing cells of the issue: a layer check written against the star import."""
    namespace = {}
    exec("from cs231n.classifiers.fc_net import *\nimport numpy as np", namespace)
    exec(
        "x = np.linspace(-0.5, 0.5, num=12).reshape(3, 4)\n"
        "out, _ = relu_forward(x)\n"
        "dx = relu_backward(np.ones_like(x), _)\n"
        "loss, _ = svm_loss(np.eye(3), np.arange(3))\n"
        "bn, cache = batchnorm_forward(x, np.ones(4), np.zeros(4), {'mode': 'train'})\n"
        "dbn = batchnorm_backward_alt(np.ones_like(x), cache)[0]\n"
        "ln, cache = layernorm_forward(x, np.ones(4), np.zeros(4), {})\n",
        namespace,
    )
    assert (namespace["out"] >= 0).all() and namespace["loss"] == 0.0
    assert abs(namespace["bn"].mean(axis=0)).max() < 1e-12
