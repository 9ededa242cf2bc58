"""KNearestNeighbor: the three distance computations agree, the vote is right,
and bad input fails with a clear message."""

import numpy as np
import pytest

from cs231n.classifiers.k_nearest_neighbor import KNearestNeighbor


@pytest.fixture
def knn_data(rng):
    """A trained classifier on 40 training points, and 15 test points, D = 12."""
    X_train = rng.standard_normal((40, 12))
    y_train = rng.integers(0, 4, size=40)
    X_test = rng.standard_normal((15, 12))
    knn = KNearestNeighbor()
    knn.train(X_train, y_train)
    return knn, X_train, y_train, X_test


def test_two_loop_distances_match_the_definition(knn_data):
    knn, X_train, _, X_test = knn_data
    dists = knn.compute_distances_two_loops(X_test)
    assert dists.shape == (15, 40)
    i, j = 3, 7
    assert dists[i, j] == pytest.approx(np.linalg.norm(X_test[i] - X_train[j]), rel=1e-12)
    expected = np.linalg.norm(X_test[:, None, :] - X_train[None, :, :], axis=2)
    np.testing.assert_allclose(dists, expected, rtol=1e-12, atol=0)


@pytest.mark.parametrize("method", ["compute_distances_one_loop", "compute_distances_no_loops"])
def test_vectorised_distances_equal_two_loop_ones(knn_data, method):
    knn, _, _, X_test = knn_data
    reference = knn.compute_distances_two_loops(X_test)
    dists = getattr(knn, method)(X_test)
    assert dists.shape == reference.shape
    assert np.max(np.abs(dists - reference)) < 1e-10


def test_no_loop_distances_on_image_scale_data(rng):
    """Pixel-valued data (0..255, D = 3072) is where ||a||^2 + ||b||^2 - 2ab loses digits."""
    X_train = rng.uniform(0, 255, size=(30, 3072))
    X_test = rng.uniform(0, 255, size=(6, 3072))
    knn = KNearestNeighbor()
    knn.train(X_train, rng.integers(0, 3, size=30))
    reference = knn.compute_distances_two_loops(X_test)
    dists = knn.compute_distances_no_loops(X_test)
    assert np.max(np.abs(dists - reference) / reference) < 1e-10


def test_distance_to_itself_is_clamped_not_nan(rng):
    """Rounding can make ||a||^2 + ||a||^2 - 2 a.a negative; the result must be ~0, never NaN."""
    X = rng.uniform(0, 255, size=(20, 300))
    knn = KNearestNeighbor()
    knn.train(X, np.arange(20))
    # What is left of ||a||^2 + ||a||^2 - 2 a.a is a few rounding errors of ||a||^2, so
    # the distance is a few sqrt(eps * ||a||^2), not exactly 0 (how few depends on the
    # order in which the BLAS sums the dot products).
    bound = 8 * np.sqrt(np.finfo(np.float64).eps * (X**2).sum(axis=1).max())
    for method in (knn.compute_distances_one_loop, knn.compute_distances_no_loops):
        dists = method(X)
        assert not np.isnan(dists).any()
        assert np.all(np.abs(np.diag(dists)) < bound)
    assert np.array_equal(knn.predict(X, k=1), np.arange(20))


def test_predict_labels_majority_vote_and_ties():
    knn = KNearestNeighbor()
    knn.train(np.zeros((5, 2)), np.array([3, 1, 1, 2, 2]))
    dists = np.array(
        [
            [0.0, 1.0, 2.0, 3.0, 4.0],  # k=3 -> labels 3, 1, 1 -> 1
            [5.0, 4.0, 3.0, 2.0, 1.0],  # k=3 -> labels 2, 2, 1 -> 2
            [0.0, 9.0, 9.0, 1.0, 9.0],  # k=2 -> labels 3, 2: a tie, the smaller label wins
        ]
    )
    assert knn.predict_labels(dists, k=1).tolist() == [3, 2, 3]
    assert knn.predict_labels(dists, k=3)[:2].tolist() == [1, 2]
    assert knn.predict_labels(dists[2:], k=2).tolist() == [2]
    # equal distances: the training example that comes first is the nearer one
    assert knn.predict_labels(np.ones((1, 5)), k=1).tolist() == [3]


@pytest.mark.parametrize("num_loops", [0, 1, 2])
def test_predict_with_every_implementation(knn_data, num_loops):
    knn, X_train, y_train, X_test = knn_data
    dists = np.linalg.norm(X_test[:, None, :] - X_train[None, :, :], axis=2)
    nearest = np.argsort(dists, axis=1)[:, :5]
    expected = [np.argmax(np.bincount(y_train[row])) for row in nearest]
    assert knn.predict(X_test, k=5, num_loops=num_loops).tolist() == expected
    # k=1 on the training set returns the training labels
    assert np.array_equal(knn.predict(X_train, k=1, num_loops=num_loops), y_train)


def test_predict_before_train_fails():
    with pytest.raises(RuntimeError, match=r"call train\(X, y\) before predict"):
        KNearestNeighbor().predict(np.zeros((2, 3)))
    with pytest.raises(RuntimeError, match="before compute_distances_no_loops"):
        KNearestNeighbor().compute_distances_no_loops(np.zeros((2, 3)))


@pytest.mark.parametrize("num_loops", [0, 1, 2])
def test_wrong_number_of_features_fails(knn_data, num_loops):
    knn, _, _, _ = knn_data
    with pytest.raises(ValueError, match=r"X has 11 features .* must be of shape \(N, 12\)"):
        knn.predict(np.zeros((3, 11)), num_loops=num_loops)


def test_bad_shapes_and_dtypes_fail(knn_data):
    knn, _, _, _ = knn_data
    with pytest.raises(ValueError, match="X must have 2 dimensions, got shape"):
        knn.predict(np.zeros((3, 4, 3)))
    with pytest.raises(TypeError, match="X must be a numpy array"):
        knn.predict([[0.0] * 12])
    with pytest.raises(TypeError, match="X must hold floating-point numbers.*uint8"):
        knn.predict(np.zeros((3, 12), dtype=np.uint8))
    with pytest.raises(ValueError, match=r"y must have shape \(5,\)"):
        KNearestNeighbor().train(np.zeros((5, 2)), np.zeros(4, dtype=int))
    with pytest.raises(TypeError, match="y must hold integer class labels"):
        KNearestNeighbor().train(np.zeros((5, 2)), np.zeros(5))
    with pytest.raises(ValueError, match="labels must be >= 0"):
        KNearestNeighbor().train(np.zeros((2, 2)), np.array([0, -1]))
    with pytest.raises(ValueError, match=r"dists must have one column per training example"):
        knn.predict_labels(np.zeros((3, 39)))


@pytest.mark.parametrize("k", [0, -1, 41, 2.0, "3", True])
def test_bad_k_fails(knn_data, k):
    knn, _, _, X_test = knn_data
    with pytest.raises(ValueError, match=r"k must be an integer from 1 to .* \(40\)"):
        knn.predict(X_test, k=k)


@pytest.mark.parametrize("num_loops", [3, -1, "0", None, 1.5])
def test_bad_num_loops_fails(knn_data, num_loops):
    knn, _, _, X_test = knn_data
    with pytest.raises(ValueError, match="invalid value .* for num_loops; use 0, 1 or 2"):
        knn.predict(X_test, num_loops=num_loops)
