"""initlab.course: the course's numbers, equal to the general path, and the learner checker."""

import copy
import json
import warnings
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from initlab import Network, cli
from initlab.course import deep, initialization, planar
from initlab.course.check import check
from initlab.errors import InitlabError

# The course's own code, transcribed as the course writes it (planar_utils and the week-3
# notebook; dnn_utils and the week-4 notebook; init_utils and the "Initialization" notebook),
# independently of initlab. Each is both a learner's file for the checker and, executed into
# REF_*, the reference the tests hold initlab's functions against.
COURSE_PLANAR = """
import copy
import numpy as np
def sigmoid(x):
    s = 1 / (1 + np.exp(-x))
    return s
def layer_sizes(X, Y):
    n_x = X.shape[0]
    n_h = 4
    n_y = Y.shape[0]
    return (n_x, n_h, n_y)
def initialize_parameters(n_x, n_h, n_y):
    W1 = np.random.randn(n_h, n_x) * 0.01
    b1 = np.zeros((n_h, 1))
    W2 = np.random.randn(n_y, n_h) * 0.01
    b2 = np.zeros((n_y, 1))
    return {"W1": W1, "b1": b1, "W2": W2, "b2": b2}
def forward_propagation(X, parameters):
    W1 = parameters["W1"]
    b1 = parameters["b1"]
    W2 = parameters["W2"]
    b2 = parameters["b2"]
    Z1 = np.dot(W1, X) + b1
    A1 = np.tanh(Z1)
    Z2 = np.dot(W2, A1) + b2
    A2 = sigmoid(Z2)
    cache = {"Z1": Z1, "A1": A1, "Z2": Z2, "A2": A2}
    return A2, cache
def compute_cost(A2, Y):
    m = Y.shape[1]
    logprobs = np.multiply(np.log(A2), Y) + np.multiply(np.log(1 - A2), 1 - Y)
    cost = - np.sum(logprobs) / m
    cost = float(np.squeeze(cost))
    return cost
def backward_propagation(parameters, cache, X, Y):
    m = X.shape[1]
    W1 = parameters["W1"]
    W2 = parameters["W2"]
    A1 = cache["A1"]
    A2 = cache["A2"]
    dZ2 = A2 - Y
    dW2 = (1 / m) * np.dot(dZ2, A1.T)
    db2 = (1 / m) * np.sum(dZ2, axis=1, keepdims=True)
    dZ1 = np.dot(W2.T, dZ2) * (1 - np.power(A1, 2))
    dW1 = (1 / m) * np.dot(dZ1, X.T)
    db1 = (1 / m) * np.sum(dZ1, axis=1, keepdims=True)
    grads = {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2}
    return grads
def update_parameters(parameters, grads, learning_rate=1.2):
    W1 = copy.deepcopy(parameters["W1"])
    b1 = copy.deepcopy(parameters["b1"])
    W2 = copy.deepcopy(parameters["W2"])
    b2 = copy.deepcopy(parameters["b2"])
    W1 = W1 - learning_rate * grads["dW1"]
    b1 = b1 - learning_rate * grads["db1"]
    W2 = W2 - learning_rate * grads["dW2"]
    b2 = b2 - learning_rate * grads["db2"]
    parameters = {"W1": W1, "b1": b1, "W2": W2, "b2": b2}
    return parameters
def nn_model(X, Y, n_h, num_iterations=10000, print_cost=False):
    np.random.seed(3)
    n_x = layer_sizes(X, Y)[0]
    n_y = layer_sizes(X, Y)[2]
    parameters = initialize_parameters(n_x, n_h, n_y)
    for i in range(0, num_iterations):
        A2, cache = forward_propagation(X, parameters)
        cost = compute_cost(A2, Y)
        grads = backward_propagation(parameters, cache, X, Y)
        parameters = update_parameters(parameters, grads)
        if print_cost and i % 1000 == 0:
            print("Cost after iteration %i: %f" % (i, cost))
    return parameters
def predict(parameters, X):
    A2, cache = forward_propagation(X, parameters)
    predictions = (A2 > 0.5)
    return predictions
"""

COURSE_DEEP = """
import copy
import numpy as np
def sigmoid(Z):
    A = 1 / (1 + np.exp(-Z))
    cache = Z
    return A, cache
def relu(Z):
    A = np.maximum(0, Z)
    assert(A.shape == Z.shape)
    cache = Z
    return A, cache
def relu_backward(dA, cache):
    Z = cache
    dZ = np.array(dA, copy=True)
    dZ[Z <= 0] = 0
    assert (dZ.shape == Z.shape)
    return dZ
def sigmoid_backward(dA, cache):
    Z = cache
    s = 1 / (1 + np.exp(-Z))
    dZ = dA * s * (1 - s)
    assert (dZ.shape == Z.shape)
    return dZ
def initialize_parameters(n_x, n_h, n_y):
    np.random.seed(1)
    W1 = np.random.randn(n_h, n_x) * 0.01
    b1 = np.zeros((n_h, 1))
    W2 = np.random.randn(n_y, n_h) * 0.01
    b2 = np.zeros((n_y, 1))
    return {"W1": W1, "b1": b1, "W2": W2, "b2": b2}
def initialize_parameters_deep(layer_dims):
    np.random.seed(3)
    parameters = {}
    L = len(layer_dims)
    for l in range(1, L):
        parameters["W" + str(l)] = np.random.randn(layer_dims[l], layer_dims[l - 1]) * 0.01
        parameters["b" + str(l)] = np.zeros((layer_dims[l], 1))
    return parameters
def linear_forward(A, W, b):
    Z = np.dot(W, A) + b
    cache = (A, W, b)
    return Z, cache
def linear_activation_forward(A_prev, W, b, activation):
    if activation == "sigmoid":
        Z, linear_cache = linear_forward(A_prev, W, b)
        A, activation_cache = sigmoid(Z)
    elif activation == "relu":
        Z, linear_cache = linear_forward(A_prev, W, b)
        A, activation_cache = relu(Z)
    cache = (linear_cache, activation_cache)
    return A, cache
def L_model_forward(X, parameters):
    caches = []
    A = X
    L = len(parameters) // 2
    for l in range(1, L):
        A_prev = A
        A, cache = linear_activation_forward(A_prev, parameters["W" + str(l)], parameters["b" + str(l)], "relu")
        caches.append(cache)
    AL, cache = linear_activation_forward(A, parameters["W" + str(L)], parameters["b" + str(L)], "sigmoid")
    caches.append(cache)
    return AL, caches
def compute_cost(AL, Y):
    m = Y.shape[1]
    cost = -1 / m * np.sum(np.multiply(Y, np.log(AL)) + np.multiply(1 - Y, np.log(1 - AL)))
    cost = np.squeeze(cost)
    return cost
def linear_backward(dZ, cache):
    A_prev, W, b = cache
    m = A_prev.shape[1]
    dW = 1 / m * np.dot(dZ, A_prev.T)
    db = 1 / m * np.sum(dZ, axis=1, keepdims=True)
    dA_prev = np.dot(W.T, dZ)
    return dA_prev, dW, db
def linear_activation_backward(dA, cache, activation):
    linear_cache, activation_cache = cache
    if activation == "relu":
        dZ = relu_backward(dA, activation_cache)
        dA_prev, dW, db = linear_backward(dZ, linear_cache)
    elif activation == "sigmoid":
        dZ = sigmoid_backward(dA, activation_cache)
        dA_prev, dW, db = linear_backward(dZ, linear_cache)
    return dA_prev, dW, db
def L_model_backward(AL, Y, caches):
    grads = {}
    L = len(caches)
    m = AL.shape[1]
    Y = Y.reshape(AL.shape)
    dAL = - (np.divide(Y, AL) - np.divide(1 - Y, 1 - AL))
    current_cache = caches[L - 1]
    dA_prev_temp, dW_temp, db_temp = linear_activation_backward(dAL, current_cache, "sigmoid")
    grads["dA" + str(L - 1)] = dA_prev_temp
    grads["dW" + str(L)] = dW_temp
    grads["db" + str(L)] = db_temp
    for l in reversed(range(L - 1)):
        current_cache = caches[l]
        dA_prev_temp, dW_temp, db_temp = linear_activation_backward(grads["dA" + str(l + 1)], current_cache, "relu")
        grads["dA" + str(l)] = dA_prev_temp
        grads["dW" + str(l + 1)] = dW_temp
        grads["db" + str(l + 1)] = db_temp
    return grads
def update_parameters(params, grads, learning_rate):
    parameters = copy.deepcopy(params)
    L = len(parameters) // 2
    for l in range(L):
        parameters["W" + str(l + 1)] = parameters["W" + str(l + 1)] - learning_rate * grads["dW" + str(l + 1)]
        parameters["b" + str(l + 1)] = parameters["b" + str(l + 1)] - learning_rate * grads["db" + str(l + 1)]
    return parameters
"""

COURSE_INIT = """
import numpy as np
def sigmoid(x):
    s = 1 / (1 + np.exp(-x))
    return s
def relu(x):
    s = np.maximum(0, x)
    return s
def forward_propagation(X, parameters):
    W1 = parameters["W1"]
    b1 = parameters["b1"]
    W2 = parameters["W2"]
    b2 = parameters["b2"]
    W3 = parameters["W3"]
    b3 = parameters["b3"]
    z1 = np.dot(W1, X) + b1
    a1 = relu(z1)
    z2 = np.dot(W2, a1) + b2
    a2 = relu(z2)
    z3 = np.dot(W3, a2) + b3
    a3 = sigmoid(z3)
    cache = (z1, a1, W1, b1, z2, a2, W2, b2, z3, a3, W3, b3)
    return a3, cache
def backward_propagation(X, Y, cache):
    m = X.shape[1]
    (z1, a1, W1, b1, z2, a2, W2, b2, z3, a3, W3, b3) = cache
    dz3 = 1./m * (a3 - Y)
    dW3 = np.dot(dz3, a2.T)
    db3 = np.sum(dz3, axis=1, keepdims = True)
    da2 = np.dot(W3.T, dz3)
    dz2 = np.multiply(da2, np.int64(a2 > 0))
    dW2 = np.dot(dz2, a1.T)
    db2 = np.sum(dz2, axis=1, keepdims = True)
    da1 = np.dot(W2.T, dz2)
    dz1 = np.multiply(da1, np.int64(a1 > 0))
    dW1 = np.dot(dz1, X.T)
    db1 = np.sum(dz1, axis=1, keepdims = True)
    gradients = {"dz3": dz3, "dW3": dW3, "db3": db3,
                 "da2": da2, "dz2": dz2, "dW2": dW2, "db2": db2,
                 "da1": da1, "dz1": dz1, "dW1": dW1, "db1": db1}
    return gradients
def update_parameters(parameters, grads, learning_rate):
    L = len(parameters) // 2
    for k in range(L):
        parameters["W" + str(k+1)] = parameters["W" + str(k+1)] - learning_rate * grads["dW" + str(k+1)]
        parameters["b" + str(k+1)] = parameters["b" + str(k+1)] - learning_rate * grads["db" + str(k+1)]
    return parameters
def compute_loss(a3, Y):
    m = Y.shape[1]
    logprobs = np.multiply(-np.log(a3),Y) + np.multiply(-np.log(1 - a3), 1 - Y)
    loss = 1./m * np.nansum(logprobs)
    return loss
def predict(X, y, parameters):
    m = X.shape[1]
    p = np.zeros((1,m), dtype = int)
    a3, caches = forward_propagation(X, parameters)
    for i in range(0, a3.shape[1]):
        if a3[0,i] > 0.5:
            p[0,i] = 1
        else:
            p[0,i] = 0
    print("Accuracy: "  + str(np.mean((p[0,:] == y[0,:]))))
    return p
def predict_dec(parameters, X):
    a3, cache = forward_propagation(X, parameters)
    predictions = (a3>0.5)
    return predictions
def initialize_parameters_zeros(layers_dims):
    parameters = {}
    L = len(layers_dims)
    for l in range(1, L):
        parameters['W' + str(l)] = np.zeros((layers_dims[l], layers_dims[l-1]))
        parameters['b' + str(l)] = np.zeros((layers_dims[l], 1))
    return parameters
def initialize_parameters_random(layers_dims):
    np.random.seed(3)
    parameters = {}
    L = len(layers_dims)
    for l in range(1, L):
        parameters['W' + str(l)] = np.random.randn(layers_dims[l], layers_dims[l-1]) * 10
        parameters['b' + str(l)] = np.zeros((layers_dims[l], 1))
    return parameters
def initialize_parameters_he(layers_dims):
    np.random.seed(3)
    parameters = {}
    L = len(layers_dims) - 1
    for l in range(1, L + 1):
        parameters['W' + str(l)] = np.random.randn(layers_dims[l], layers_dims[l-1]) * np.sqrt(2./layers_dims[l-1])
        parameters['b' + str(l)] = np.zeros((layers_dims[l], 1))
    return parameters
def model(X, Y, learning_rate = 0.01, num_iterations = 15000, print_cost = True, initialization = "he"):
    grads = {}
    costs = []
    m = X.shape[1]
    layers_dims = [X.shape[0], 10, 5, 1]
    if initialization == "zeros":
        parameters = initialize_parameters_zeros(layers_dims)
    elif initialization == "random":
        parameters = initialize_parameters_random(layers_dims)
    elif initialization == "he":
        parameters = initialize_parameters_he(layers_dims)
    for i in range(num_iterations):
        a3, cache = forward_propagation(X, parameters)
        cost = compute_loss(a3, Y)
        grads = backward_propagation(X, Y, cache)
        parameters = update_parameters(parameters, grads, learning_rate)
        if print_cost and i % 1000 == 0:
            print("Cost after iteration {}: {}".format(i, cost))
            costs.append(cost)
    return parameters
"""


def _transcription(source: str) -> SimpleNamespace:
    namespace: dict = {}
    exec(compile(source, "<course>", "exec"), namespace)  # noqa: S102 - our own text above
    return SimpleNamespace(**namespace)


REF = {
    "planar": _transcription(COURSE_PLANAR),
    "deep": _transcription(COURSE_DEEP),
    "initialization": _transcription(COURSE_INIT),
}
OURS = {"planar": planar, "deep": deep, "initialization": initialization}


def global_next_draw_unchanged(fn, *args):
    np.random.seed(42)
    before = np.random.get_state()[1].copy(), np.random.get_state()[2]
    out = fn(*args)
    after = np.random.get_state()[1], np.random.get_state()[2]
    return out, np.array_equal(before[0], after[0]) and before[1] == after[1]


# ------------------------------------------------------------------ the published numbers
def test_published_initial_weights():
    np.random.seed(2)
    p = planar.initialize_parameters(2, 4, 1)
    np.testing.assert_allclose(p["W1"][0], [-0.00416758, -0.00056267], atol=5e-9)
    p, untouched = global_next_draw_unchanged(initialization.initialize_parameters_he, [2, 4, 1])
    np.testing.assert_allclose(p["W1"][0], [1.78862847, 0.43650985], atol=5e-9)
    assert untouched
    p, untouched = global_next_draw_unchanged(initialization.initialize_parameters_random, [3, 2, 1])
    np.testing.assert_allclose(p["W1"][0], [17.88628473, 4.36509851, 0.96497468], atol=5e-8)
    assert untouched
    for fn, args in ((deep.initialize_parameters, (3, 2, 1)), (deep.initialize_parameters_deep, ([5, 4, 3],))):
        _, untouched = global_next_draw_unchanged(fn, *args)
        assert untouched


def test_deep_initializers_course_values():
    """deep: seeds 1 and 3 inside, randn * 0.01 (checked against NumPy's own seeded draws)."""
    p = deep.initialize_parameters(3, 2, 1)
    rs = np.random.RandomState(1)
    np.testing.assert_array_equal(p["W1"], rs.randn(2, 3) * 0.01)
    p = deep.initialize_parameters_deep([5, 4, 3])
    rs = np.random.RandomState(3)
    np.testing.assert_array_equal(p["W1"], rs.randn(4, 5) * 0.01)
    np.testing.assert_array_equal(p["W2"], rs.randn(3, 4) * 0.01)


@pytest.mark.slow  # 20 s, and `reproduce course-initialization` (test_experiments) checks the same runs stricter
def test_initialization_model_reproduces_course_accuracies(capsys):
    train_X, train_Y, test_X, test_Y = initialization.load_dataset()
    assert train_X.shape == (2, 300) and test_Y.shape == (1, 100)
    published = {"zeros": (0.5, 0.5), "random": (0.83, 0.86), "he": (0.9933, 0.96)}
    for init, (tr, te) in published.items():
        params = initialization.model(train_X, train_Y, initialization=init, print_cost=False)
        p_train = initialization.predict(train_X, train_Y, params)
        p_test = initialization.predict(test_X, test_Y, params)
        assert p_train.shape == (1, 300)
        assert np.mean(p_train == train_Y) == pytest.approx(tr, abs=5e-4)
        assert np.mean(p_test == test_Y) == pytest.approx(te, abs=5e-4)
    assert "Accuracy: 0.96" in capsys.readouterr().out


def test_model_prints_inf_then_costs_for_large_random(capsys):
    train_X, train_Y, _, _ = initialization.load_dataset()
    initialization.model(train_X, train_Y, num_iterations=1001, initialization="random")
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Cost after iteration 0: inf"
    assert out[1].startswith("Cost after iteration 1000: 0.62")


def test_planar_nn_model_reaches_90_percent(capsys):
    X, Y = planar.load_planar_dataset()
    params = planar.nn_model(X, Y, 4, print_cost=True)
    assert np.mean(planar.predict(params, X) == Y) >= 0.90
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 10 and out[0].startswith("Cost after iteration 0: 0.69")


def test_compute_cost_accepts_boolean_Y_and_1d_A2():
    A2 = np.array([0.8, 0.3, 0.6])
    Y = np.array([[True, False, True]])
    c = planar.compute_cost(A2, Y)
    assert isinstance(c, float)
    assert c == pytest.approx(-np.mean(np.log([0.8, 0.7, 0.6])))
    assert deep.compute_cost(A2[None], Y.astype(float)).shape == ()


# ------------------------------------------------------- equal to the general path
def test_planar_equals_network():
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((2, 30)), (rng.random((1, 30)) > 0.5).astype(float)
    net = Network([2, 4, 1], hidden="tanh", init="xavier", seed=1)
    A2, cache = planar.forward_propagation(X, net.params)
    np.testing.assert_allclose(A2, net.forward(X)[0], rtol=1e-14)
    grads = planar.backward_propagation(net.params, cache, X, Y)
    ref = net.gradients(X, Y)
    for k in grads:
        np.testing.assert_allclose(grads[k], ref[k], rtol=1e-12, atol=1e-15)


def test_deep_equals_network():
    rng = np.random.default_rng(1)
    X, Y = rng.standard_normal((5, 12)), (rng.random((1, 12)) > 0.5).astype(float)
    net = Network([5, 4, 3, 1], hidden="relu", init="he", seed=2)
    AL, caches = deep.L_model_forward(X, net.params)
    np.testing.assert_allclose(AL, net.forward(X)[0], rtol=1e-14)
    assert deep.compute_cost(AL, Y) == pytest.approx(net.cost(X, Y), rel=1e-12)
    grads = deep.L_model_backward(AL, Y, caches)
    assert sorted(grads) == sorted(["dA0", "dA1", "dA2", "dW1", "dW2", "dW3", "db1", "db2", "db3"])
    ref = net.gradients(X, Y)
    for k in grads:
        np.testing.assert_allclose(grads[k], ref[k], rtol=1e-9, atol=1e-14)


def test_initialization_model_equals_network_fit():
    train_X, train_Y, _, _ = initialization.load_dataset()
    params = initialization.model(train_X, train_Y, num_iterations=200, print_cost=False)
    net = Network([2, 10, 5, 1], hidden="relu", init="he", seed=np.random.RandomState(3))
    net.fit(train_X, train_Y, lr=0.01, iterations=200)
    for k in params:
        np.testing.assert_allclose(params[k], net.params[k], rtol=1e-12, atol=1e-14)


# ------------------------------------------------------------------------ the checker
@pytest.mark.parametrize(
    "module, source", [("planar", COURSE_PLANAR), ("deep", COURSE_DEEP), ("initialization", COURSE_INIT)]
)
def test_checker_passes_the_course_code(tmp_path, module, source):
    f = tmp_path / f"my_{module}.py"
    f.write_text(source)
    report = check(f)
    assert report.module == module
    assert report.ok, [r for r in report.results if r.status != "ok"]
    assert report.module == module and all(r.status == "ok" for r in report.results)  # every function written


def test_checker_names_the_wrong_function_and_input(tmp_path, capsys):
    wrong = COURSE_DEEP.replace("db = 1 / m * np.sum(dZ", "db = np.sum(dZ")
    f = tmp_path / "wrong.py"
    f.write_text(wrong)
    with pytest.raises(SystemExit) as e:
        cli.main(["course", "check", str(f), "--json"])
    assert e.value.code == 1
    r = {x["name"]: x for x in json.loads(capsys.readouterr().out)["results"]}
    assert r["linear_backward"]["status"] == "differs"
    assert "dZ (3, 4)" in r["linear_backward"]["input"] and "largest difference" in r["linear_backward"]["detail"]
    assert r["linear_forward"]["status"] == "ok"


def test_checker_he_with_sqrt_1_over_n(tmp_path, capsys):
    f = tmp_path / "init.py"
    f.write_text(
        "import numpy as np\n"
        "def initialize_parameters_he(layers_dims):\n"
        "    np.random.seed(3)\n"
        "    p = {}\n"
        "    for l in range(1, len(layers_dims)):\n"
        "        p['W' + str(l)] = np.random.randn(layers_dims[l], layers_dims[l-1]) "
        "* np.sqrt(1 / layers_dims[l-1])\n"
        "        p['b' + str(l)] = np.zeros((layers_dims[l], 1))\n"
        "    return p\n"
        "def initialize_parameters_zeros(layers_dims):\n"
        "    raise NotImplementedError('todo')\n"
    )
    with pytest.raises(SystemExit) as e:
        cli.main(["course", "check", str(f)])
    out = capsys.readouterr().out
    assert e.value.code == 1
    assert "differs  initialize_parameters_he  on layers_dims=[2, 4, 1]" in out
    assert "raised   initialize_parameters_zeros" in out and "NotImplementedError: todo" in out
    assert "missing  model" in out


def test_checker_bad_files(tmp_path, capsys):
    for argv, words in (
        (["course", "check", str(tmp_path / "none.py")], "does not exist"),
        (["course", "check", __file__, "--module", "plnar"], "did you mean planar"),
    ):
        with pytest.raises(SystemExit) as e:
            cli.main(argv)
        err = capsys.readouterr().err
        assert e.value.code == 2 and words in err and err.count("\n") == 1
    broken = tmp_path / "broken.py"
    broken.write_text("def f(:\n")
    with pytest.raises(SystemExit) as e:
        cli.main(["course", "check", str(broken)])
    assert e.value.code == 2 and "SyntaxError" in capsys.readouterr().err


# --------------------------------------- the course's code, from the same (odd) inputs
def assert_same(ref, got, where="result", rtol=1e-12):
    """``got`` is what the course's code returned: same containers, keys, types, shapes, dtypes
    and values (NaN where the course has NaN)."""
    if isinstance(ref, dict):
        assert isinstance(got, dict) and set(got) == set(ref), f"{where}: keys {sorted(got)} != {sorted(ref)}"
        for k in ref:
            assert_same(ref[k], got[k], f"{where}[{k!r}]", rtol)
    elif isinstance(ref, (tuple, list)):
        assert type(got) is type(ref) and len(got) == len(ref), f"{where}: {type(got)} of {len(got)}"
        for i, (r, g) in enumerate(zip(ref, got, strict=True)):
            assert_same(r, g, f"{where}[{i}]", rtol)
    else:
        assert type(got) is type(ref), f"{where}: type {type(got).__name__}, the course's is {type(ref).__name__}"
        r, g = np.asarray(ref), np.asarray(got)
        assert g.shape == r.shape and g.dtype == r.dtype, f"{where}: {g.shape} {g.dtype} != {r.shape} {r.dtype}"
        if r.dtype.kind in "fc":
            np.testing.assert_allclose(g, r, rtol=rtol, atol=1e-15, equal_nan=True, err_msg=where)
        else:
            np.testing.assert_array_equal(g, r, err_msg=where)


def run_both(module, name, args, seed=None, rtol=1e-12):
    """Call the course's transcription and ours on deep copies of ``args``; compare the results and
    the arguments afterwards (what each function changed in place)."""
    out = {}
    for side, mod in (("ref", REF[module]), ("ours", OURS[module])):
        a = copy.deepcopy(args)
        if seed is not None:
            np.random.seed(seed)
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            out[side] = (getattr(mod, name)(*a), a)
    assert_same(out["ref"][0], out["ours"][0], f"{module}.{name}", rtol)
    assert_same(out["ref"][1], out["ours"][1], f"{module}.{name} arguments afterwards", rtol)
    return out["ours"][0]


def rand_params(dims, rng, scale=0.7):
    return {
        k: v
        for l in range(1, len(dims))
        for k, v in (
            (f"W{l}", rng.standard_normal((dims[l], dims[l - 1])) * scale),
            (f"b{l}", rng.standard_normal((dims[l], 1)) * 0.1),
        )
    }


def labels(rng, m, boolean=False):
    Y = rng.random((1, m)) > 0.5
    return Y if boolean else Y.astype(np.int64)


def probs(rng, m):
    return rng.uniform(0.05, 0.95, (1, m))


def planar_cache(rng, n_h, m):
    """Not the forward pass of any parameters: A1 is not tanh(Z1) (the course's newest unit test)."""
    return {
        "Z1": rng.standard_normal((n_h, m)),
        "A1": rng.uniform(-1, 1, (n_h, m)),
        "Z2": rng.standard_normal((1, m)),
        "A2": probs(rng, m),
    }


def deep_caches(rng, dims, m):
    """Caches whose A_prev is not relu of the Z below and whose Z_L is not logit(AL)."""
    return [
        (
            (
                rng.standard_normal((dims[l - 1], m)),
                rng.standard_normal((dims[l], dims[l - 1])),
                rng.standard_normal((dims[l], 1)),
            ),
            rng.standard_normal((dims[l], m)),
        )
        for l in range(1, len(dims))
    ]


def init_cache(rng, n_x, m, dims=(10, 5, 1)):
    """(z1, a1, W1, b1, z2, a2, W2, b2, z3, a3, W3, b3) with a's sign patterns not the z's."""
    n, c = [n_x, *dims], []
    for l in range(1, 4):
        a = np.maximum(rng.standard_normal((n[l], m)), 0) if l < 3 else probs(rng, m)
        c += [rng.standard_normal((n[l], m)), a, rng.standard_normal((n[l], n[l - 1])), rng.standard_normal((n[l], 1))]
    return tuple(c)


F = np.asfortranarray
SAT = np.array([[0.0, 1.0, 1.0, 0.0, 0.3]]), np.array([[0, 1, 0, 1, 1]])  # saturated, right and wrong
CASES = {
    "planar": {
        "sigmoid": lambda r: [
            (F(r.standard_normal((3, 4))),),
            (0.3,),
            (r.standard_normal(5).astype(np.float32),),
            (np.array([-800.0, 0.0, 800.0]),),
        ],
        "layer_sizes": lambda r: [(r.standard_normal((5, 3)), r.standard_normal((2, 3)))],
        "forward_propagation": lambda r: [
            (F(r.standard_normal((2, 6))), {**rand_params([2, 4, 1], r), "W3": np.ones((1, 1))}),
            (r.standard_normal(2), rand_params([2, 4, 1], r)),
        ],  # 1-D X: the course broadcasts it
        "compute_cost": lambda r: [
            (probs(r, 6), labels(r, 6, True)),
            (probs(r, 5)[0], labels(r, 5)),
            SAT,
            (F(probs(r, 4)), labels(r, 4).astype(np.float32)),
        ],
        "backward_propagation": lambda r: [
            (rand_params([2, 4, 1], r), planar_cache(r, 4, 7), r.standard_normal((2, 7)), labels(r, 7)),
            (rand_params([3, 5, 1], r), planar_cache(r, 5, 1), r.standard_normal((3, 1)), labels(r, 1, True)),
            (
                {k: F(v) for k, v in rand_params([2, 4, 1], r).items()},
                planar_cache(r, 4, 3),
                F(r.standard_normal((2, 3))),
                labels(r, 3),
            ),
        ],
        "update_parameters": lambda r: [
            (
                {**rand_params([2, 4, 1], r), "extra": np.zeros(2)},
                {f"d{k}": v for k, v in rand_params([2, 4, 1], r).items()},
            ),
            (
                {k: np.ones(v.shape, dtype=np.int64) for k, v in rand_params([2, 3, 1], r).items()},
                {f"d{k}": v for k, v in rand_params([2, 3, 1], r).items()},
                0.5,
            ),
        ],
        "predict": lambda r: [(rand_params([2, 4, 1], r, 3.0), r.standard_normal((2, 9)))],
    },
    "deep": {
        "sigmoid": lambda r: [(F(r.standard_normal((3, 4))),), (r.standard_normal(4).astype(np.float32),)],
        "relu": lambda r: [(F(r.standard_normal((3, 4))),), (np.arange(-2, 3),)],
        "relu_backward": lambda r: [
            (r.standard_normal((3, 4)), r.standard_normal((3, 4))),
            (np.array([[1.0, np.inf, -np.inf, 2.0]]), np.array([[np.nan, 0.0, -1.0, 0.0]])),
            (np.arange(6).reshape(2, 3), np.array([[1, -1, 0], [2, 0, 3]])),  # integer dA stays integer
            (r.standard_normal(5), r.standard_normal(5)),
            (F(r.standard_normal((2, 3))), F(r.standard_normal((2, 3)))),
        ],
        "sigmoid_backward": lambda r: [
            (r.standard_normal((3, 4)), r.standard_normal((3, 4))),
            (r.standard_normal((1, 4)), r.standard_normal((3, 4))),  # dA broadcasts: dZ still has Z's shape
            (r.standard_normal(5), np.array([-800.0, -1.0, 0.0, 1.0, 800.0])),
        ],
        "linear_forward": lambda r: [
            (F(r.standard_normal((3, 4))), r.standard_normal((2, 3)), r.standard_normal((2, 1))),
            (r.standard_normal(3), r.standard_normal((2, 3)), r.standard_normal((2, 1))),
        ],
        "linear_activation_forward": lambda r: [
            (r.standard_normal((3, 4)), r.standard_normal((2, 3)), r.standard_normal((2, 1)), act)
            for act in ("relu", "sigmoid")
        ],
        "L_model_forward": lambda r: [(r.standard_normal((4, 5)), rand_params([4, 3, 2, 1], r))],
        "compute_cost": lambda r: [(probs(r, 6), labels(r, 6, True)), (probs(r, 5)[0], labels(r, 5)), SAT],
        "linear_backward": lambda r: [
            (r.standard_normal((2, 4)), deep_caches(r, [3, 2], 4)[0][0]),
            (F(r.standard_normal((2, 1))), deep_caches(r, [3, 2], 1)[0][0]),
        ],
        "linear_activation_backward": lambda r: [
            (r.standard_normal((2, 4)), deep_caches(r, [3, 2], 4)[0], act) for act in ("relu", "sigmoid")
        ],
        "L_model_backward": lambda r: [
            (probs(r, 5), labels(r, 5), deep_caches(r, [4, 3, 2, 1], 5)),
            (probs(r, 3), labels(r, 3, True), deep_caches(r, [2, 1], 3)),
            (probs(r, 4), labels(r, 4)[0], deep_caches(r, [3, 2, 1], 4)),  # 1-D Y: the course reshapes it
            (SAT[0], SAT[1], deep_caches(r, [3, 2, 1], 5)),
        ],
        "update_parameters": lambda r: [
            ({**rand_params([3, 2, 1], r)}, {f"d{k}": v for k, v in rand_params([3, 2, 1], r).items()}, 0.1),
            (
                {k: np.ones(v.shape, dtype=np.int64) for k, v in rand_params([2, 2, 1], r).items()},
                {f"d{k}": v for k, v in rand_params([2, 2, 1], r).items()},
                0.3,
            ),
        ],
        "initialize_parameters": lambda r: [(3, 2, 1)],
        "initialize_parameters_deep": lambda r: [([5, 4, 3],), ([2, 1],)],
    },
    "initialization": {
        "sigmoid": lambda r: [(F(r.standard_normal((3, 4))),), (2.0,)],
        "relu": lambda r: [(r.standard_normal((3, 4)),), (-1.5,)],
        "forward_propagation": lambda r: [(F(r.standard_normal((2, 5))), rand_params([2, 10, 5, 1], r))],
        "compute_loss": lambda r: [(probs(r, 6), labels(r, 6, True)), (probs(r, 5)[0], labels(r, 5)), SAT],
        "backward_propagation": lambda r: [
            (r.standard_normal((2, 6)), labels(r, 6), init_cache(r, 2, 6)),
            (r.standard_normal((3, 1)), labels(r, 1, True), init_cache(r, 3, 1)),
            (F(r.standard_normal((2, 4))), labels(r, 4).astype(float), init_cache(r, 2, 4)),
        ],
        "update_parameters": lambda r: [
            (rand_params([2, 10, 5, 1], r), {f"d{k}": v for k, v in rand_params([2, 10, 5, 1], r).items()}, 0.1),
            (
                {k: np.ones(v.shape, dtype=np.int64) for k, v in rand_params([2, 3, 1], r).items()},
                {f"d{k}": v for k, v in rand_params([2, 3, 1], r).items()},
                0.5,
            ),
        ],
        "predict": lambda r: [(r.standard_normal((2, 7)), labels(r, 7), rand_params([2, 10, 5, 1], r))],
        "predict_dec": lambda r: [(rand_params([2, 10, 5, 1], r), r.standard_normal((2, 7)))],
        "initialize_parameters_zeros": lambda r: [([2, 10, 5, 1],)],
        "initialize_parameters_random": lambda r: [([2, 10, 5, 1],), ([3, 1],)],
        "initialize_parameters_he": lambda r: [([2, 10, 5, 1],), ([4, 3, 1],)],
    },
}


@pytest.mark.parametrize("module, name", [(m, f) for m in CASES for f in CASES[m]])
def test_equals_the_course_code_on_odd_inputs(module, name, capsys):
    """Inconsistent caches, booleans and integers, Fortran order, 1-D inputs the course accepts,
    outputs saturated to exactly 0 or 1: ours returns what the course's code returns."""
    for k, args in enumerate(CASES[module][name](np.random.default_rng(0))):
        run_both(module, name, args, seed=k)
    if name == "predict" and module == "initialization":
        out = capsys.readouterr().out.splitlines()
        assert out[0] == out[1] and out[0].startswith("Accuracy: ")


@pytest.mark.parametrize(
    "module, name, args",
    [
        ("planar", "nn_model", lambda r: (r.standard_normal((2, 20)), labels(r, 20), 3, 40)),
        ("planar", "nn_model", lambda r: (r.standard_normal((2, 20)), labels(r, 20, True), 2, 5)),
        ("initialization", "model", lambda r: (r.standard_normal((2, 20)), labels(r, 20), 0.05, 40, False, "he")),
        (
            "initialization",
            "model",
            lambda r: (r.standard_normal((2, 20)), labels(r, 20, True), 0.01, 5, False, "random"),
        ),
    ],
)
def test_trainers_equal_the_course_code(module, name, args):
    """The trainers run on initlab.nn: the same numbers to rounding."""
    run_both(module, name, args(np.random.default_rng(0)), seed=7, rtol=1e-9)


def test_planar_backward_reads_A1_from_the_cache_not_Z1():
    """The user's report: the course's newest unit test builds a cache whose A1 is not tanh(Z1)."""
    rng = np.random.default_rng(5)
    params, cache = rand_params([2, 4, 1], rng), planar_cache(rng, 4, 3)
    X, Y = rng.standard_normal((2, 3)), labels(rng, 3)
    grads = planar.backward_propagation(params, cache, X, Y)
    dZ1 = params["W2"].T @ (cache["A2"] - Y) * (1 - cache["A1"] ** 2)
    np.testing.assert_allclose(grads["dW1"], dZ1 @ X.T / 3, rtol=1e-12)
    recomputed = params["W2"].T @ (cache["A2"] - Y) * (1 - np.tanh(cache["Z1"]) ** 2)
    assert not np.allclose(grads["dW1"], recomputed @ X.T / 3)  # the inputs do tell the two apart
    # Z1, Z2 and W1 are not read: changing them changes nothing
    other = {**cache, "Z1": cache["Z1"] + 5, "Z2": cache["Z2"] - 1}
    assert_same(grads, planar.backward_propagation({**params, "W1": params["W1"] * 3}, other, X, Y))


def test_initialization_backward_masks_with_a_and_ignores_z():
    rng = np.random.default_rng(6)
    X, Y, cache = rng.standard_normal((2, 5)), labels(rng, 5), init_cache(rng, 2, 5)
    grads = initialization.backward_propagation(X, Y, cache)
    z_moved = list(cache)
    for i in (0, 3, 4, 7, 8, 11, 2):  # z1, b1, z2, b2, z3, b3, W1
        z_moved[i] = z_moved[i] * -3 + 1
    assert_same(grads, initialization.backward_propagation(X, Y, tuple(z_moved)))
    np.testing.assert_allclose(grads["da2"], cache[10].T @ ((cache[9] - Y) / 5), rtol=1e-12)  # 1/m is in da2


def test_initialization_update_rebinds_and_leaves_the_cache_alone():
    rng = np.random.default_rng(7)
    X, params = rng.standard_normal((2, 4)), rand_params([2, 10, 5, 1], rng)
    _, cache = initialization.forward_propagation(X, params)
    W1_before = cache[2].copy()
    grads = initialization.backward_propagation(X, labels(rng, 4), cache)
    out = initialization.update_parameters(params, grads, 0.5)
    assert out is params and params["W1"] is not cache[2]
    np.testing.assert_array_equal(cache[2], W1_before)  # the old array was not written into


def test_updates_do_not_touch_the_callers_arrays():
    rng = np.random.default_rng(8)
    for mod, dims in ((planar, [2, 4, 1]), (deep, [3, 2, 1])):
        params = rand_params(dims, rng)
        before = copy.deepcopy(params)
        grads = {f"d{k}": v for k, v in rand_params(dims, rng).items()}
        out = mod.update_parameters(params, grads, 0.1)
        assert out is not params
        assert_same(before, params)


def test_return_types_are_the_courses():
    A, Y = np.array([[0.8, 0.3]]), np.array([[1, 0]])
    assert type(planar.compute_cost(A, Y)) is float
    assert type(deep.compute_cost(A, Y)) is np.float64
    assert type(initialization.compute_loss(A, Y)) is np.float64
    assert planar.predict(rand_params([2, 4, 1], np.random.default_rng(0)), np.ones((2, 3))).dtype == bool
    p = initialization.predict_dec(rand_params([2, 10, 5, 1], np.random.default_rng(0)), np.ones((2, 3)))
    assert p.dtype == bool
    assert type(planar.sigmoid(0.0)) is np.float64 and planar.sigmoid(np.float32(1)).dtype == np.float32
    assert np.isnan(planar.compute_cost(np.array([[1.0]]), np.array([[1]])))  # np.sum, as the course
    assert initialization.compute_loss(np.array([[1.0, 0.5]]), np.array([[1, 1]])) == pytest.approx(np.log(2) / 2)


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda: planar.compute_cost(np.array([[0.5, 0.5]]), np.array([1, 0])), "Y must be 2-D"),
        (lambda: deep.compute_cost(np.array([[0.5]]), [[1]]), "Y must be a NumPy array"),
        (
            lambda: planar.backward_propagation(
                rand_params([2, 4, 1], np.random.default_rng(0)),
                {"A2": np.ones((1, 3))},
                np.ones((2, 3)),
                np.ones((1, 3)),
            ),
            "missing key 'A1'",
        ),
        (lambda: deep.relu_backward(np.ones((3, 4)), np.ones((3, 1))), "same shape, got dA (3, 4) and Z (3, 1)"),
        (lambda: deep.sigmoid_backward(np.ones((3, 4)), np.ones((1, 4))), "same shape"),
        (
            lambda: deep.linear_activation_forward(np.ones((3, 2)), np.ones((1, 3)), np.ones((1, 1)), "tanh"),
            "unknown activation 'tanh'",
        ),
        (
            lambda: deep.linear_backward(np.ones((2, 4)), (np.ones((3, 5)), np.ones((2, 3)), np.ones((2, 1)))),
            "linear_backward(dZ=array (2, 4), cache=(array (3, 5), array (2, 3), array (2, 1)))",
        ),
        (lambda: initialization.backward_propagation(np.ones((2, 3)), np.ones((1, 3)), (1, 2)), "ValueError"),
        (lambda: initialization.model(np.ones((2, 3)), np.ones(3), print_cost=False), "Y must be 2-D"),
        (
            lambda: initialization.model(np.ones((2, 3)), np.ones((1, 3)), initialization="xavier"),
            "unknown initialization 'xavier'",
        ),
        (lambda: planar.nn_model(np.ones(3), np.ones((1, 3)), 2, 1), "X must be 2-D"),
    ],
)
def test_where_the_course_fails_an_initlab_error_says_why(call, words):
    with pytest.raises(InitlabError) as e:
        call()
    assert words in str(e.value)


def test_the_course_code_fails_on_those_inputs_too():
    with pytest.raises(IndexError):
        REF["planar"].compute_cost(np.array([[0.5, 0.5]]), np.array([1, 0]))
    with pytest.raises(IndexError):  # the boolean mask dZ[Z <= 0] does not fit
        REF["deep"].relu_backward(np.ones((3, 4)), np.ones((3, 1)))
    with pytest.raises(UnboundLocalError):
        REF["deep"].linear_activation_forward(np.ones((3, 2)), np.ones((1, 3)), np.ones((1, 1)), "tanh")


def test_wrong_arguments_stay_a_type_error():
    with pytest.raises(TypeError):
        planar.backward_propagation(np.ones((2, 3)))


# ------------------------------------------------------------- properties over shapes
shapes = st.integers(1, 6)


@given(n_x=shapes, n_h=shapes, m=shapes, boolean=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_planar_backward_property(n_x, n_h, m, boolean, seed):
    r = np.random.default_rng(seed)
    run_both(
        "planar",
        "backward_propagation",
        (rand_params([n_x, n_h, 1], r), planar_cache(r, n_h, m), r.standard_normal((n_x, m)), labels(r, m, boolean)),
    )
    run_both("planar", "compute_cost", (probs(r, m), labels(r, m, boolean)))


@given(dims=st.lists(shapes, min_size=2, max_size=5), m=shapes, boolean=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_deep_backward_property(dims, m, boolean, seed):
    r = np.random.default_rng(seed)
    dims = [*dims[:-1], 1]
    run_both("deep", "L_model_backward", (probs(r, m), labels(r, m, boolean), deep_caches(r, dims, m)))
    run_both("deep", "L_model_forward", (r.standard_normal((dims[0], m)), rand_params(dims, r)))
    Z = r.standard_normal((dims[0], m))
    Z[r.random(Z.shape) < 0.3] = 0.0
    run_both("deep", "relu_backward", (r.standard_normal(Z.shape), Z))
    run_both("deep", "sigmoid_backward", (r.standard_normal(Z.shape), Z))


@given(n_x=shapes, m=shapes, boolean=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_initialization_backward_property(n_x, m, boolean, seed):
    r = np.random.default_rng(seed)
    run_both(
        "initialization",
        "backward_propagation",
        (r.standard_normal((n_x, m)), labels(r, m, boolean), init_cache(r, n_x, m)),
    )
    run_both("initialization", "compute_loss", (probs(r, m), labels(r, m, boolean)))


# ------------------------------------------- the checker catches recomputing from Z
def test_checker_catches_g_prime_recomputed_from_Z(tmp_path, capsys):
    learner = COURSE_PLANAR.replace("(1 - np.power(A1, 2))", "(1 - np.tanh(cache['Z1']) ** 2)")
    assert learner != COURSE_PLANAR
    f = tmp_path / "my_planar.py"
    f.write_text(learner)
    report = check(f)
    r = {x.name: x for x in report.results}
    assert r["backward_propagation"].status == "differs"
    assert "A1 is not tanh(Z1)" in r["backward_propagation"].input
    assert "dW1" in r["backward_propagation"].detail
    assert all(x.status == "ok" for n, x in r.items() if n != "backward_propagation")
    with pytest.raises(SystemExit) as e:
        cli.main(["course", "check", str(f)])
    out = capsys.readouterr().out
    assert e.value.code == 1 and "differs  backward_propagation  on " in out and "A1 is not tanh(Z1)" in out


def test_checker_catches_relu_mask_from_z(tmp_path):
    learner = COURSE_INIT.replace("np.int64(a2 > 0)", "np.int64(z2 > 0)")
    f = tmp_path / "my_init.py"
    f.write_text(learner)
    r = {x.name: x for x in check(f).results}
    assert r["backward_propagation"].status == "differs"
    assert "masks with a > 0, never z" in r["backward_propagation"].input
    assert r["forward_propagation"].status == "ok" and r["compute_loss"].status == "ok"
