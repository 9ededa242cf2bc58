"""Models: classifiers built from the layers, each with the Solver's ``params`` / ``loss``
contract (the kNN and linear classifiers have their own ``train`` / ``predict``)."""

from cs231n.classifiers.k_nearest_neighbor import KNearestNeighbor
from cs231n.classifiers.linear_classifier import (
    LinearClassifier,
    LinearSVM,
    Softmax,
    softmax_loss_naive,
    softmax_loss_vectorized,
    svm_loss_naive,
    svm_loss_vectorized,
)

# As in the original course code, ``from cs231n.classifiers import *`` also brings the
# linear classifiers' loss functions.
__all__ = [
    "KNearestNeighbor",
    "LinearClassifier",
    "LinearSVM",
    "Softmax",
    "svm_loss_naive",
    "svm_loss_vectorized",
    "softmax_loss_naive",
    "softmax_loss_vectorized",
]
