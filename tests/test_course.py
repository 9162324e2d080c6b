"""initlab.course: the course's numbers, equal to the general path, and the learner checker."""

import copy
import json
import warnings
from types import SimpleNamespace

import numpy as np
import pytest

from initlab import Network, cli
from initlab.course import deep, initialization, planar
from initlab.course.check import check

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


REF = {"planar": _transcription(COURSE_PLANAR), "deep": _transcription(COURSE_DEEP),
       "initialization": _transcription(COURSE_INIT)}
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
    for fn, args in ((deep.initialize_parameters, (3, 2, 1)),
                     (deep.initialize_parameters_deep, ([5, 4, 3],))):
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
@pytest.mark.parametrize("module, source", [("planar", COURSE_PLANAR), ("deep", COURSE_DEEP)])
def test_checker_passes_the_course_code(tmp_path, module, source):
    f = tmp_path / f"my_{module}.py"
    f.write_text(source)
    report = check(f)
    assert report.module == module
    assert report.ok, [r for r in report.results if r.status != "ok"]
    assert {r.name for r in report.results if r.status == "ok"} >= {"compute_cost", "update_parameters"}


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
    f.write_text("import numpy as np\n"
                 "def initialize_parameters_he(layers_dims):\n"
                 "    np.random.seed(3)\n"
                 "    p = {}\n"
                 "    for l in range(1, len(layers_dims)):\n"
                 "        p['W' + str(l)] = np.random.randn(layers_dims[l], layers_dims[l-1]) "
                 "* np.sqrt(1 / layers_dims[l-1])\n"
                 "        p['b' + str(l)] = np.zeros((layers_dims[l], 1))\n"
                 "    return p\n"
                 "def initialize_parameters_zeros(layers_dims):\n"
                 "    raise NotImplementedError('todo')\n")
    with pytest.raises(SystemExit) as e:
        cli.main(["course", "check", str(f)])
    out = capsys.readouterr().out
    assert e.value.code == 1
    assert "differs  initialize_parameters_he  on layers_dims=[2, 4, 1]" in out
    assert "raised   initialize_parameters_zeros" in out and "NotImplementedError: todo" in out
    assert "missing  model" in out


def test_checker_bad_files(tmp_path, capsys):
    for argv, words in ((["course", "check", str(tmp_path / "none.py")], "does not exist"),
                        (["course", "check", __file__, "--module", "plnar"], "did you mean planar")):
        with pytest.raises(SystemExit) as e:
            cli.main(argv)
        err = capsys.readouterr().err
        assert e.value.code == 2 and words in err and err.count("\n") == 1
    broken = tmp_path / "broken.py"
    broken.write_text("def f(:\n")
    with pytest.raises(SystemExit) as e:
        cli.main(["course", "check", str(broken)])
    assert e.value.code == 2 and "SyntaxError" in capsys.readouterr().err
