"""initlab.course: the course's numbers, equal to the general path, and the learner checker."""

import json

import numpy as np
import pytest

from initlab import Network, cli
from initlab.course import deep, initialization, planar
from initlab.course.check import check

# The course's own code, written out independently of initlab: the learner's file in the tests.
COURSE_PLANAR = '''
import numpy as np
def sigmoid(x):
    return 1 / (1 + np.exp(-x))
def layer_sizes(X, Y):
    return (X.shape[0], 4, Y.shape[0])
def initialize_parameters(n_x, n_h, n_y):
    W1 = np.random.randn(n_h, n_x) * 0.01
    b1 = np.zeros((n_h, 1))
    W2 = np.random.randn(n_y, n_h) * 0.01
    b2 = np.zeros((n_y, 1))
    return {"W1": W1, "b1": b1, "W2": W2, "b2": b2}
def forward_propagation(X, parameters):
    Z1 = np.dot(parameters["W1"], X) + parameters["b1"]
    A1 = np.tanh(Z1)
    Z2 = np.dot(parameters["W2"], A1) + parameters["b2"]
    A2 = sigmoid(Z2)
    return A2, {"Z1": Z1, "A1": A1, "Z2": Z2, "A2": A2}
def compute_cost(A2, Y):
    m = Y.shape[1]
    logprobs = np.multiply(np.log(A2), Y) + np.multiply(np.log(1 - A2), 1 - Y)
    return float(np.squeeze(-np.sum(logprobs) / m))
def backward_propagation(parameters, cache, X, Y):
    m = X.shape[1]
    dZ2 = cache["A2"] - Y
    dW2 = np.dot(dZ2, cache["A1"].T) / m
    db2 = np.sum(dZ2, axis=1, keepdims=True) / m
    dZ1 = np.dot(parameters["W2"].T, dZ2) * (1 - np.power(cache["A1"], 2))
    dW1 = np.dot(dZ1, X.T) / m
    db1 = np.sum(dZ1, axis=1, keepdims=True) / m
    return {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2}
def update_parameters(parameters, grads, learning_rate=1.2):
    return {k: parameters[k] - learning_rate * grads["d" + k] for k in parameters}
def nn_model(X, Y, n_h, num_iterations=10000, print_cost=False):
    np.random.seed(3)
    n_x, _, n_y = layer_sizes(X, Y)
    parameters = initialize_parameters(n_x, n_h, n_y)
    for i in range(num_iterations):
        A2, cache = forward_propagation(X, parameters)
        cost = compute_cost(A2, Y)
        grads = backward_propagation(parameters, cache, X, Y)
        parameters = update_parameters(parameters, grads)
    return parameters
def predict(parameters, X):
    A2, cache = forward_propagation(X, parameters)
    return A2 > 0.5
'''

COURSE_DEEP = '''
import numpy as np
def initialize_parameters(n_x, n_h, n_y):
    np.random.seed(1)
    return {"W1": np.random.randn(n_h, n_x) * 0.01, "b1": np.zeros((n_h, 1)),
            "W2": np.random.randn(n_y, n_h) * 0.01, "b2": np.zeros((n_y, 1))}
def initialize_parameters_deep(layer_dims):
    np.random.seed(3)
    parameters = {}
    for l in range(1, len(layer_dims)):
        parameters["W" + str(l)] = np.random.randn(layer_dims[l], layer_dims[l - 1]) * 0.01
        parameters["b" + str(l)] = np.zeros((layer_dims[l], 1))
    return parameters
def linear_forward(A, W, b):
    return np.dot(W, A) + b, (A, W, b)
def linear_activation_forward(A_prev, W, b, activation):
    Z, linear_cache = linear_forward(A_prev, W, b)
    A = 1 / (1 + np.exp(-Z)) if activation == "sigmoid" else np.maximum(0, Z)
    return A, (linear_cache, Z)
def L_model_forward(X, parameters):
    caches, A, L = [], X, len(parameters) // 2
    for l in range(1, L):
        A, cache = linear_activation_forward(A, parameters["W" + str(l)], parameters["b" + str(l)], "relu")
        caches.append(cache)
    AL, cache = linear_activation_forward(A, parameters["W" + str(L)], parameters["b" + str(L)], "sigmoid")
    caches.append(cache)
    return AL, caches
def compute_cost(AL, Y):
    m = Y.shape[1]
    cost = -np.sum(Y * np.log(AL) + (1 - Y) * np.log(1 - AL)) / m
    return np.squeeze(cost)
def linear_backward(dZ, cache):
    A_prev, W, b = cache
    m = A_prev.shape[1]
    return np.dot(W.T, dZ), np.dot(dZ, A_prev.T) / m, np.sum(dZ, axis=1, keepdims=True) / m
def linear_activation_backward(dA, cache, activation):
    linear_cache, Z = cache
    if activation == "relu":
        dZ = np.array(dA, copy=True)
        dZ[Z <= 0] = 0
    else:
        s = 1 / (1 + np.exp(-Z))
        dZ = dA * s * (1 - s)
    return linear_backward(dZ, linear_cache)
def L_model_backward(AL, Y, caches):
    grads, L = {}, len(caches)
    Y = Y.reshape(AL.shape)
    dAL = -(np.divide(Y, AL) - np.divide(1 - Y, 1 - AL))
    grads["dA" + str(L - 1)], grads["dW" + str(L)], grads["db" + str(L)] = \\
        linear_activation_backward(dAL, caches[L - 1], "sigmoid")
    for l in reversed(range(L - 1)):
        dA_prev, dW, db = linear_activation_backward(grads["dA" + str(l + 1)], caches[l], "relu")
        grads["dA" + str(l)], grads["dW" + str(l + 1)], grads["db" + str(l + 1)] = dA_prev, dW, db
    return grads
def update_parameters(params, grads, learning_rate):
    parameters = {k: v.copy() for k, v in params.items()}
    for l in range(len(parameters) // 2):
        parameters["W" + str(l + 1)] -= learning_rate * grads["dW" + str(l + 1)]
        parameters["b" + str(l + 1)] -= learning_rate * grads["db" + str(l + 1)]
    return parameters
'''


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
    wrong = COURSE_DEEP.replace("np.sum(dZ, axis=1, keepdims=True) / m", "np.sum(dZ, axis=1, keepdims=True)")
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
