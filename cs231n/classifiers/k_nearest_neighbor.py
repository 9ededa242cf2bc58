"""k-nearest-neighbour classifier with L2 (Euclidean) distance.

Training only memorises the data; prediction finds, for each test example, the k
training examples closest to it and takes a majority vote of their labels.

The distance matrix is computed three ways, from the most explicit to the fastest,
so that each version checks the next one:

- ``compute_distances_two_loops``: one Python iteration per (test, train) pair;
- ``compute_distances_one_loop``: one iteration per test example, vectorised over
  the training set;
- ``compute_distances_no_loops``: no Python loop at all, using
  ``||a - b||^2 = ||a||^2 + ||b||^2 - 2 a.b`` and one matrix product.

Shape letters: N test examples (num_test), M training examples (num_train),
D features.
"""

import numbers

import numpy as np

from cs231n._checks import check_float, check_labels, check_ndim
from cs231n.classifiers._saving import SaveLoad


class KNearestNeighbor(SaveLoad):
    """A kNN classifier with L2 distance.

    Example::

        knn = KNearestNeighbor()
        knn.train(X_train, y_train)          # X_train (M, D), y_train (M,)
        y_pred = knn.predict(X_test, k=5)    # X_test (N, D) -> y_pred (N,)
    """

    def __init__(self):
        self.X_train = None
        self.y_train = None

    def train(self, X, y):
        """Memorise the training data.

        Parameters
        ----------
        X : ndarray of shape (M, D), floating point; one training example per row
        y : ndarray of shape (M,), integer labels, y[i] >= 0 is the label of X[i]
        """
        check_ndim("KNearestNeighbor.train", "X", X, 2)
        check_float("KNearestNeighbor.train", "X", X)
        check_labels("KNearestNeighbor.train", y, X.shape[0])
        if X.shape[0] == 0:
            raise ValueError("KNearestNeighbor.train: X holds no training examples.")
        if np.min(y) < 0:
            raise ValueError(
                f"KNearestNeighbor.train: labels must be >= 0, got a minimum of {np.min(y)}."
            )
        self.X_train = X
        self.y_train = np.asarray(y, dtype=np.intp)  # the label type np.bincount counts

    def _state(self):
        """What ``save`` writes: the memorised training set, X_train (M, D) and y_train (M,)."""
        return {"X_train": self.X_train, "y_train": self.y_train}

    def _set_state(self, state):
        self.X_train = state["X_train"]
        self.y_train = state["y_train"].astype(np.intp)

    def _has_state(self):
        return False  # any training set may replace the one held

    def predict(self, X, k=1, num_loops=0):
        """Predict a label for each test example.

        Parameters
        ----------
        X : ndarray of shape (N, D), floating point; one test example per row
        k : int, the number of nearest neighbours that vote for the label
        num_loops : {0, 1, 2}, which implementation computes the distances

        Returns
        -------
        y_pred : ndarray of shape (N,), y_pred[i] is the predicted label of X[i]
        """
        compute = {
            0: self.compute_distances_no_loops,
            1: self.compute_distances_one_loop,
            2: self.compute_distances_two_loops,
        }
        if num_loops not in compute or isinstance(num_loops, bool):
            raise ValueError(
                f"KNearestNeighbor.predict: invalid value {num_loops!r} for num_loops; "
                "use 0, 1 or 2."
            )
        self._check_k("predict", k)  # before the (possibly slow) distances
        dists = compute[num_loops](X)
        return self.predict_labels(dists, k=k)

    def _check_test_data(self, func, X):
        """Raise unless the classifier is trained and X is (N, D) with the training D."""
        if self.X_train is None:
            raise RuntimeError(f"KNearestNeighbor.{func}: call train(X, y) before {func}.")
        check_ndim(f"KNearestNeighbor.{func}", "X", X, 2)
        check_float(f"KNearestNeighbor.{func}", "X", X)
        D = self.X_train.shape[1]
        if X.shape[1] != D:
            raise ValueError(
                f"KNearestNeighbor.{func}: X has {X.shape[1]} features per example "
                f"(shape {X.shape}) but the training data has {D}; X must be of shape (N, {D})."
            )

    def _check_k(self, func, k):
        if self.X_train is None:
            raise RuntimeError(f"KNearestNeighbor.{func}: call train(X, y) before {func}.")
        num_train = self.X_train.shape[0]
        if not isinstance(k, numbers.Integral) or isinstance(k, bool) or not 1 <= k <= num_train:
            raise ValueError(
                f"KNearestNeighbor.{func}: k must be an integer from 1 to the number of "
                f"training examples ({num_train}), got {k!r}."
            )

    def compute_distances_two_loops(self, X):
        """L2 distance between each test and each training example, with two loops.

        Parameters
        ----------
        X : ndarray of shape (N, D), test data

        Returns
        -------
        dists : ndarray of shape (N, M), dists[i, j] is the Euclidean distance
            between the ith test example and the jth training example
        """
        self._check_test_data("compute_distances_two_loops", X)
        num_test = X.shape[0]
        num_train = self.X_train.shape[0]
        dists = np.zeros((num_test, num_train), dtype=np.result_type(X, self.X_train))
        for i in range(num_test):
            for j in range(num_train):
                # BEGIN SOLUTION a1.knn.two_loops: the Euclidean distance between test point i and training point j
                diff = X[i] - self.X_train[j]  # (D,)
                dists[i, j] = np.sqrt(np.sum(diff * diff))
                # END SOLUTION a1.knn.two_loops
        return dists

    def compute_distances_one_loop(self, X):
        """L2 distances with one loop over the test examples.

        Each iteration computes the distances from one test example to every
        training example at once, vectorised over the training set. Broadcasting
        ``X_train - X[i]`` works; expanding ``||a - b||^2 = ||a||^2 + ||b||^2 - 2 a.b``
        is faster, as each iteration then is one matrix-vector product and builds
        no (M, D) temporary.

        Parameters and return value as ``compute_distances_two_loops``.
        """
        self._check_test_data("compute_distances_one_loop", X)
        num_test = X.shape[0]
        num_train = self.X_train.shape[0]
        dists = np.zeros((num_test, num_train), dtype=np.result_type(X, self.X_train))
        # BEGIN SOLUTION a1.knn.one_loop: row i of dists, for all training points at once
        # Squared norms of the rows; einsum avoids the (M, D) temporary of X_train ** 2.
        train_sq = np.einsum("ij,ij->i", self.X_train, self.X_train)  # (M,), ||b_j||^2
        for i in range(num_test):
            sq = train_sq + X[i] @ X[i] - 2.0 * (self.X_train @ X[i])  # (M,)
            dists[i, :] = np.sqrt(np.maximum(sq, 0.0))  # rounding can make sq slightly < 0
        # END SOLUTION a1.knn.one_loop
        return dists

    def compute_distances_no_loops(self, X):
        """L2 distances with no explicit loop: one matrix product and broadcasting.

        ``||a - b||^2 = ||a||^2 + ||b||^2 - 2 a.b`` for every pair at once; the
        products a.b of all pairs are ``X @ X_train.T``. Rounding can make a tiny
        squared distance slightly negative, so it is clamped at 0 before the root.

        Parameters and return value as ``compute_distances_two_loops``.
        """
        self._check_test_data("compute_distances_no_loops", X)
        dists = None
        # BEGIN SOLUTION a1.knn.no_loops: the whole distance matrix, with matrix operations only
        # Squared norms of the rows; einsum avoids the temporaries X ** 2 and X_train ** 2.
        test_sq = np.einsum("ij,ij->i", X, X)  # (N,), ||a_i||^2
        train_sq = np.einsum("ij,ij->i", self.X_train, self.X_train)  # (M,), ||b_j||^2
        dists = X @ self.X_train.T  # (N, M), a_i . b_j
        dists *= -2.0
        dists += test_sq[:, None]  # broadcast over columns
        dists += train_sq[None, :]  # broadcast over rows
        np.maximum(dists, 0.0, out=dists)
        np.sqrt(dists, out=dists)
        # END SOLUTION a1.knn.no_loops
        return dists

    def predict_labels(self, dists, k=1):
        """Majority vote among the k nearest training examples of each test example.

        Parameters
        ----------
        dists : ndarray of shape (N, M), dists[i, j] is the distance between the
            ith test example and the jth training example
        k : int, the number of neighbours that vote

        Returns
        -------
        y_pred : ndarray of shape (N,), the predicted labels. A tie between labels
            is broken toward the smaller label; a tie between equal distances
            toward the training example that comes first.
        """
        self._check_k("predict_labels", k)
        check_ndim("KNearestNeighbor.predict_labels", "dists", dists, 2)
        num_train = self.X_train.shape[0]
        if dists.shape[1] != num_train:
            raise ValueError(
                f"KNearestNeighbor.predict_labels: dists must have one column per training "
                f"example, shape (N, {num_train}), got {dists.shape}."
            )
        num_test = dists.shape[0]
        y_pred = np.zeros(num_test, dtype=self.y_train.dtype)
        for i in range(num_test):
            closest_y = []  # labels of the k nearest neighbours of the ith test example
            # BEGIN SOLUTION a1.knn.predict_labels.closest_y: the labels of the k training points nearest to test point i
            row = dists[i]  # (M,)
            # Only the k smallest distances matter: np.partition finds the kth smallest
            # in linear time instead of sorting the whole row. Every distance up to it
            # (ties included, in training order) is a candidate; a stable sort of those
            # few keeps the earlier training example first among equal distances.
            kth = np.partition(row, k - 1)[k - 1] if k < row.size else row.max()
            candidates = np.flatnonzero(row <= kth)  # (>= k,) ascending training indices
            nearest = candidates[np.argsort(row[candidates], kind="stable")[:k]]  # (k,)
            closest_y = self.y_train[nearest]
            # END SOLUTION a1.knn.predict_labels.closest_y
            # BEGIN SOLUTION a1.knn.predict_labels.vote: the most common of those labels, the smaller label on a tie
            # bincount counts each label; argmax returns the first (smallest) of tied labels.
            y_pred[i] = np.argmax(np.bincount(closest_y))
            # END SOLUTION a1.knn.predict_labels.vote
        return y_pred
