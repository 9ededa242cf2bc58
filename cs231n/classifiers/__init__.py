"""Models: classifiers built from the layers, each with the Solver's ``params`` / ``loss``
contract (the kNN and linear classifiers have their own ``train`` / ``predict``)."""

from cs231n.classifiers.k_nearest_neighbor import KNearestNeighbor
from cs231n.classifiers.linear_classifier import LinearClassifier, LinearSVM, Softmax

__all__ = ["KNearestNeighbor", "LinearClassifier", "LinearSVM", "Softmax"]
