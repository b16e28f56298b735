"""Bad input gets a ValueError that says what is wrong; odd-but-valid input works."""
import copy
import pickle

import numpy as np
import pytest

import fastnet
import fastnet.reference

IMPLS_OTHER = {"fastnet": fastnet.reference, "fastnet.reference": fastnet}


@pytest.fixture
def net(impl):
    return impl.MLP([3, 5, 4], activation="tanh", seed=0, dtype="float64")


X_OK = np.arange(12, dtype=np.float64).reshape(4, 3) / 10
Y_OK = np.array([0, 1, 2, 3])


@pytest.mark.parametrize("method", ["forward", "predict", "predict_proba"])
def test_wrong_feature_count(net, method):
    with pytest.raises(ValueError, match="X has 2 features, but the network expects 3"):
        getattr(net, method)(np.zeros((4, 2)))


@pytest.mark.parametrize("bad,match", [
    (np.zeros(3), "must be 2-D"),
    (np.zeros((0, 3)), "empty"),
    (np.array([[1.0, np.nan, 0.0]]), "NaN or infinity"),
    (np.array([[1.0, np.inf, 0.0]]), "NaN or infinity"),
    (np.array([[1e300, 0.0, 0.0]]), "NaN or infinity"),   # finite in float64 only
    (np.array([["a", "b", "c"]]), "real numbers"),
    ([[1, 2], [3]], "could not be read|real numbers"),
])
def test_bad_X(impl, bad, match):
    net = impl.MLP([3, 5, 4], seed=0, dtype="float32")
    with pytest.raises(ValueError, match=match):
        net.predict(bad)
    with pytest.raises(ValueError, match=match):
        net.fit(bad, np.zeros(max(len(bad), 1), dtype=int))


@pytest.mark.parametrize("y,match", [
    (np.array([0, 1, 2, 4]), r"labels outside 0..3"),
    (np.array([0, 1, -1, 2]), r"labels outside 0..3"),
    (np.array([0, 1, 2.5, 3]), "non-integer"),
    (np.array([0, 1, np.nan, 3]), "NaN"),
    (np.array([0, 1, 2]), "X has 4 samples but y has 3"),
    (np.eye(4)[[0, 1, 2, 3]] * 2, "not one-hot"),
    (np.ones((4, 4)), "not one-hot"),
    (np.eye(3), "width 3"),
    (np.zeros((4, 2, 2)), "1-D labels or 2-D one-hot"),
])
def test_bad_labels(net, y, match):
    for call in (net.fit, net.loss, net.gradients, net.score):
        with pytest.raises(ValueError, match=match):
            call(X_OK, y)


def test_bad_targets(impl):
    net = impl.MLP([3, 4, 2], output="linear", seed=0)
    with pytest.raises(ValueError, match=r"shape \(n_samples, 2\)"):
        net.fit(X_OK, np.zeros(4))
    with pytest.raises(ValueError, match="NaN or infinity"):
        net.fit(X_OK, np.full((4, 2), np.inf))
    with pytest.raises(ValueError, match="predict_proba needs output='softmax'"):
        net.predict_proba(X_OK)


@pytest.mark.parametrize("y,match", [
    (np.array([[1.0, -1.0]] * 4), "non-negative finite values.*found negative"),
    (np.array([[1.0, np.nan]] * 4), "non-negative finite values.*NaN or infinity"),
    (np.array([[1.0, np.inf]] * 4), "non-negative finite values.*NaN or infinity"),
    (np.array([[1e300, 0.0]] * 4), "NaN or infinity"),       # finite in float64 only
    (np.zeros(4), r"shape \(n_samples, 2\)"),
    (np.zeros((3, 2)), "X has 4 samples but y has 3"),
])
def test_bad_counts(impl, y, match):
    """The poisson head's truth: non-negative finite values (n, k)."""
    net = impl.MLP([3, 4, 2], output="poisson", seed=0, dtype="float32")
    before = net.parameters.copy()
    for call in (net.fit, net.loss, net.gradients, net.score):
        with pytest.raises(ValueError, match=match):
            call(X_OK, y)
    np.testing.assert_array_equal(net.parameters, before)
    with pytest.raises(ValueError, match="predict_proba"):
        net.predict_proba(X_OK)
    net.fit(X_OK, np.array([[0, 2.5]] * 4))        # zeros and rates are counts too


@pytest.mark.parametrize("kwargs,match", [
    (dict(activation="swish"), "unknown activation 'swish'"),
    (dict(activation=["tanh", "relu"]), "activation lists 2 entries, but the network has 1"),
    (dict(output="hinge"), "unknown output 'hinge'"),
    (dict(dtype="float16"), "unknown dtype"),
    (dict(layer_sizes=[3]), "at least 2 entries"),
    (dict(layer_sizes=[3, 0, 2]), "positive integers"),
    (dict(layer_sizes=[3, 2.5, 2]), "positive integers"),
    (dict(layer_sizes=[3, 1]), "at least 2 classes"),
    (dict(dtype=None), "dtype must be given: expected 'float32' or 'float64', got None"),
    (dict(dtype=object), "unknown dtype .*expected 'float32' or 'float64'"),
    (dict(seed="abc"), "seed must be None, a non-negative integer or a numpy.random.Gen"),
    (dict(seed=1.5), "seed must be None, a non-negative integer .*got 1.5"),
    (dict(seed=-1), "seed must be None, a non-negative integer .*got -1"),
    (dict(seed=True), "seed must be None, a non-negative integer .*got True"),
    (dict(seed=[1, 2]), "seed must be None, a non-negative integer"),
    (dict(seed=np.random.RandomState(0)), "seed must be None, a non-negative integer"),
])
def test_bad_constructor_arguments(impl, kwargs, match):
    args = dict(layer_sizes=[3, 5, 4])
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        impl.MLP(**args)


@pytest.mark.parametrize("kwargs,match", [
    (dict(batch_size=0), "batch_size must be a positive integer"),
    (dict(batch_size=-3), "batch_size must be a positive integer"),
    (dict(batch_size=2.0), "batch_size must be a positive integer"),
    (dict(epochs=0), "epochs must be a positive integer"),
    (dict(learning_rate=0), "learning_rate must be in"),
    (dict(learning_rate=np.nan), "learning_rate must be in"),
    (dict(momentum=1.5), r"momentum must be in \[0, 1\]"),
    (dict(l2=-1), "l2 must be in"),
    (dict(lr_decay=-0.1), "lr_decay must be in"),
    # integers no float holds: a ValueError naming the argument, not an OverflowError
    (dict(learning_rate=10 ** 400), r"learning_rate must be in \(0, inf\), got 1000"),
    (dict(learning_rate=-10 ** 400), "learning_rate must be in"),
    (dict(l2=10 ** 400), r"l2 must be in \[0, inf\), got 1000.*\(401 characters\)"),
    (dict(lr_decay=10 ** 400), "lr_decay must be in"),
    (dict(momentum=10 ** 400), r"momentum must be in \[0, 1\]"),
    (dict(learning_rate=10 ** 5000), "learning_rate must be in .*too large to print"),
    (dict(optimizer="adam", epsilon=10 ** 400), "epsilon must be in"),
    (dict(optimizer="adam", beta_2=-10 ** 400), "beta_2 must be in"),
    (dict(epochs=1.5), "epochs must be a positive integer"),
    (dict(sampling="sorted"), "unknown sampling 'sorted'"),
    (dict(validation_data=X_OK), "validation_data must be a pair"),
    (dict(validation_data=(X_OK[:, :2], Y_OK)), "validation_data X has 2 features"),
])
def test_bad_fit_arguments(net, kwargs, match):
    before = [w.copy() for w in net.weights]
    with pytest.raises(ValueError, match=match):
        net.fit(X_OK, Y_OK, **kwargs)
    for w, b in zip(net.weights, before):   # a refused fit leaves the model untouched
        np.testing.assert_array_equal(w, b)


def test_a_generator_seed_is_drawn_from_once_never_shared(impl):
    """seed=Generator: one draw seeds the model's own generator. The same state gives
    the same model (in both implementations), the caller's generator moves on by that
    draw only, so models made one after another differ, and training never touches it."""
    def gen():
        return np.random.Generator(np.random.MT19937(5))   # not default_rng's PCG64
    def next_draws(g):                  # what g would give next, without advancing it
        return copy.deepcopy(g).integers(0, 2 ** 63, size=4)

    g = gen()
    a = impl.MLP([3, 5, 4], seed=g, dtype="float64")
    after_a = next_draws(g)
    b = impl.MLP([3, 5, 4], seed=g, dtype="float64")
    assert not np.array_equal(a.parameters, b.parameters)
    expected = gen()
    expected.integers(0, 2 ** 63)
    np.testing.assert_array_equal(after_a, next_draws(expected))   # exactly one draw
    twin = IMPLS_OTHER[impl.__name__].MLP([3, 5, 4], seed=gen(), dtype="float64")
    np.testing.assert_array_equal(twin.parameters, a.parameters)
    before = next_draws(g)
    a.fit(X_OK, Y_OK, epochs=2)
    np.testing.assert_array_equal(next_draws(g), before)    # the model holds no link
    twin.fit(X_OK, Y_OK, epochs=2)
    np.testing.assert_allclose(twin.parameters, a.parameters, rtol=1e-12)
    clone = pickle.loads(pickle.dumps(a))                     # its own generator pickles
    np.testing.assert_array_equal(clone.parameters, a.parameters)


def test_batch_size_larger_than_data_is_clipped(net):
    history = net.fit(X_OK, Y_OK, batch_size=100, epochs=2)
    assert len(history["loss"]) == 2


def _variants(X):
    """Same values in other layouts and types."""
    F = np.asfortranarray(X)
    wide = np.zeros((X.shape[0], 2 * X.shape[1]))
    wide[:, ::2] = X
    strided = wide[:, ::2]                       # non-contiguous view
    ro = X.copy()
    ro.flags.writeable = False
    return {"fortran": F, "strided": strided, "readonly": ro, "list": X.tolist(),
            "float32-input": X.astype(np.float32)}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_layouts_give_the_same_results(impl, dtype):
    Xi = np.array([[0, 1, 2], [3, 4, 5], [6, 7, 8], [1, 0, 1]])  # integer input
    X = Xi.astype(np.float64)
    net = impl.MLP([3, 5, 4], seed=0, dtype=dtype)
    expected = net.forward(X)
    assert expected.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(net.forward(Xi), expected)
    for name, V in _variants(X).items():
        np.testing.assert_array_equal(net.forward(V), expected, err_msg=name)
    # Training on a Fortran-ordered copy follows the same trajectory.
    a = impl.MLP([3, 5, 4], seed=1, dtype=dtype)
    b = impl.MLP([3, 5, 4], seed=1, dtype=dtype)
    a.fit(X, Y_OK, epochs=3, learning_rate=0.1)
    b.fit(np.asfortranarray(Xi), list(Y_OK), epochs=3, learning_rate=0.1)
    for wa, wb in zip(a.weights, b.weights):
        np.testing.assert_array_equal(wa, wb)


def test_one_hot_labels_equal_integer_labels(net):
    onehot = np.eye(4)[Y_OK]
    assert net.loss(X_OK, onehot) == net.loss(X_OK, Y_OK)
    assert net.loss(X_OK, Y_OK.astype(float)) == net.loss(X_OK, Y_OK)
    dW1, db1 = net.gradients(X_OK, onehot)
    dW2, db2 = net.gradients(X_OK, Y_OK)
    for a, b in zip(dW1 + db1, dW2 + db2):
        np.testing.assert_array_equal(a, b)
