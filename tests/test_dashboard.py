"""The dashboard: its configuration checks and trainer, and the page itself in headless Chromium.

The browser tests drive Debian's Chromium through Playwright (no browser download) against a
server this module starts on 127.0.0.1 and stops by its process id. They do not skip: without
/usr/bin/chromium they fail and say how to install it (`.ci/run` does).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from initlab.dashboard.session import BOUNDARY_GRID, Config, Trainer, parse_config, split_inits
from initlab.errors import InitlabError
from initlab.nn import Network
from initlab.report import plots

INITLAB = str(Path(sys.executable).parent / "initlab")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = Path(os.environ.get("INITLAB_SCREENSHOTS", Path(__file__).parent.parent / "out" / "screenshots"))


# ---------------------------------------------------------------- without a browser
def test_config_checks_name_each_bad_field() -> None:
    cfg, errors = parse_config({})
    assert errors == {} and cfg.inits == ("zeros", "random:0.01", "random:10", "he")
    _, errors = parse_config(
        {
            "layers": "2,0,1",
            "inits": "zeros,random:-1",
            "iterations": str(10**8),
            "lr": "fast",
            "seed": "-3",
            "data": "circels",
            "hidden": "relux",
        }
    )
    assert "layer 1 has width 0" in errors["layers"]
    assert "random:-1" in errors["inits"] and "> 0" in errors["inits"]
    assert "1 to 1,000,000" in errors["iterations"]
    assert "learning rate must be a number" in errors["lr"]
    assert "non-negative" in errors["seed"]
    assert "circels" in errors["data"] and "relux" in errors["hidden"]
    assert "did you mean he" in parse_config({"inits": "zeros,hee"})[1]["inits"]
    assert "use 64,...,10" in parse_config({"data": "digits"})[1]["layers"]
    assert "1 to 4" in parse_config({"inits": "zeros,he,xavier,random:1,lecun_normal"})[1]["inits"]


def test_activation_names_from_a_field_or_url_are_read_by_the_table() -> None:
    """``?hidden=leaky_relu:abc`` raised from the page's constructor (``in HIDDEN`` raised the
    table's SLOPE error), ``?hidden=GELU`` fell back to relu, and ``?hidden=leaky_relu:0.2`` set a
    value the menu lacks. The initializer menu offered bare ``critical`` (also ``constant``,
    ``sparse``): each an error when picked, as they need an argument."""
    from initlab.dashboard.app import Dashboard, menu_names

    assert "SLOPE must be a number" in parse_config({"hidden": "leaky_relu:abc"})[1]["hidden"]
    assert parse_config({"hidden": "GELU"})[0].hidden == "gelu"
    page = Dashboard({"hidden": "leaky_relu:abc"})
    assert "SLOPE must be a number" in page.errors["hidden"].object
    for written, name in (("GELU", "gelu"), ("leaky_relu:0.20", "leaky_relu:0.2")):
        page = Dashboard({"hidden": written})
        assert page.hidden.value == name and name in page.hidden.options and page.errors["hidden"].object == ""
    names = menu_names()
    assert "critical" not in names and "constant" not in names and "sparse" not in names
    assert {"zeros", "random", "he", "lsuv", "variance_scaling"} <= set(names)
    residual = {"layers": "2,8,8,8,8,8,1", "residual": "2"}  # recipes name a residual network's layers
    for name in names:  # every name offered is a spec as it stands: on a plain network, or a recipe on a residual one
        errors = parse_config({"inits": name})[1]
        assert errors == {} or ("residual" in errors["inits"] and parse_config({"inits": name, **residual})[1] == {}), (
            name,
            errors,
        )


def test_inits_split_on_registry_names_only() -> None:
    assert split_inits("zeros, random:0.01,variance_scaling:2,fan_out,he") == [
        "zeros",
        "random:0.01",
        "variance_scaling:2,fan_out",
        "he",
    ]


def test_inits_are_told_apart_by_what_they_draw() -> None:
    assert (
        "'random' and 'random:1e-2' are both 'random:0.01'"
        in parse_config({"inits": "random,he,random:1e-2"})[1]["inits"]
    )
    assert parse_config({"inits": "he,variance_scaling:2,fan_out"})[0].inits == ("he", "variance_scaling:2,fan_out")


# ------------------------------------------ the page's pictures, computed by report.plots
def test_decision_surface_is_predict_on_the_padded_data_box() -> None:
    """One grid rule for the static report and the page: the data's box plus ``pad``, at most
    ``steps`` points a side, the same values however the points are batched."""
    X = np.array([[0.0, 2.0, 1.0], [-1.0, 0.5, 3.0]])
    calls = []
    s = plots.decision_surface(lambda P: P[0] * 10 + P[1], X, pad=0.5, steps=20)
    assert s.x[0] == -0.5 and s.y[0] == -1.5 and s.x[-1] < 2.5 and s.y[-1] < 3.5
    assert max(len(s.x), len(s.y)) <= 21 and s.values.shape == (len(s.y), len(s.x))
    assert np.array_equal(s.values, s.x[None, :] * 10 + s.y[:, None])
    b = plots.decision_surface(
        lambda P: np.stack([P[0], -P[1]]), X, pad=0.5, steps=20, batch=7, between=lambda: calls.append(1)
    )
    assert b.values.shape == (2, len(s.y), len(s.x)) and np.array_equal(
        b.values[0], np.broadcast_to(s.x, s.values.shape)
    )
    assert len(calls) == -(-s.values.size // 7)  # after every batch


def test_class_score_is_p_class_1_or_the_class_over_n_minus_1() -> None:
    A = np.array([[[0.2, 0.9]], [[0.7, 0.1]]])  # (E=2, n_y=1, k=2)
    assert np.array_equal(plots.class_score(A), [[0.2, 0.9], [0.7, 0.1]])
    Y = np.eye(3)[:, [2, 0, 1]]  # one-hot, 3 classes
    assert np.array_equal(plots.class_score(Y), [1.0, 0.0, 0.5])


def test_the_page_colours_each_members_own_predictions_on_that_grid() -> None:
    cfg, _ = parse_config({"data": "moons", "layers": "2,4,1", "inits": "he,random:1", "iterations": "1"})
    t = Trainer(cfg)
    grids, (x0, x1, y0, y1) = t._boundary()
    s = plots.decision_surface(lambda P: P[0], t.X, pad=0.5, steps=BOUNDARY_GRID)
    assert len(grids) == 2 and grids[0].shape == s.values.shape and (x0, x1, y0, y1) == s.extent
    for k, spec in enumerate(cfg.inits):  # the network of each init alone, at one grid point
        alone = Network(list(cfg.layers), hidden=cfg.hidden, init=spec, seed=cfg.seed)
        i, j = 7, 11
        P = np.array([[s.x[j]], [s.y[i]]])
        assert grids[k][i, j] == pytest.approx(alone.forward(P)[0][0, 0], rel=1e-12)
    with pytest.raises(RuntimeError):  # Stop, raised between batches, ends the measurement
        t._boundary(check=lambda: (_ for _ in ()).throw(RuntimeError))


def test_histograms_share_bins_and_the_static_one_draws_the_same_counts() -> None:
    a, b = np.array([0.0, 1.0, 1.0, np.nan]), np.array([[2.0, np.inf], [4.0, 4.0]])
    h = plots.histograms([a, b], bins=4)
    assert h.edges.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0] and h.sizes == [3, 3]
    assert [c.tolist() for c in h.counts] == [[1, 2, 0, 0], [0, 0, 1, 2]]
    assert [x.tolist() for x in h.shares()] == [[1 / 3, 2 / 3, 0, 0], [0, 0, 1 / 3, 2 / 3]]
    assert plots.histograms([np.full(3, 5.0)], bins=2).edges.tolist() == [4.5, 5.0, 5.5]
    assert plots.histograms([np.array([np.nan])], bins=2).sizes == [0]
    from matplotlib.figure import Figure

    ax = Figure().subplots()
    plots.histogram(ax, b, bins=4)
    assert [p.get_height() for p in ax.patches] == pytest.approx([1 / 3, 0, 0, 2 / 3])  # b alone: its own range, 2 to 4
    assert ax.get_ylabel() == "share of values"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_unit_tiles_are_one_picture_under_zeros_and_differ_under_he(seed: int) -> None:
    """Each tile is the unit's activation on `decision_surface`'s grid, from the network's own
    forward pass; a symmetric layer's tiles are bit for bit one picture, boxed as one group."""
    from initlab import data
    from initlab.report.tiles import tiles_html, unit_tiles

    ds = data.load("moons")
    inits = ["zeros", "constant:0.3", "he"]
    net = Network([2, 10, 5, 1], hidden="sigmoid", init=inits, seed=[seed] * 3)
    net.fit(ds.X_train, ds.Y_train, lr=0.5, iterations=30)  # trained a little: zeros' units move, together
    t = unit_tiles(net, ds.X_train, steps=20)
    grid = plots.decision_surface(lambda P: P[0], ds.X_train, pad=0.5, steps=20)
    assert np.array_equal(t.x, grid.x) and np.array_equal(t.y, grid.y)
    for k, init in enumerate(inits):
        m = t.member(k)
        alone = net.member(k)
        i, j = 5, 9
        _, cache = alone.forward(np.array([[grid.x[j]], [grid.y[i]]]))
        assert m.layers[0].values[:, i, j] == pytest.approx(cache[1][0][:, 0], rel=1e-12)
        html = tiles_html(m)
        if init == "he":
            assert not m.identical(1) and not m.identical(2) and m.layers[0].effective_width == 10
            assert "tl-group tl-shared" not in html and "1 of 10 distinct" not in html
        else:
            assert m.identical(1) and m.identical(2) and m.layers[0].groups == [list(range(10))]
            # constant:0.3's one picture is not blank; zeros' is (balanced classes: the output's
            # gradient at 0 is mean(sigmoid(0) - y) = 0, so nothing ever moves)
            assert (np.ptp(m.layers[0].values) > 0) == (init != "zeros")
            assert html.count("tl-group tl-shared") == 2 and "layer 1 (sigmoid): 1 of 10 distinct" in html
            pictures = {src.split("'")[0] for src in html.split("src='")[1:11]}
            assert len(pictures) == 1  # the same PNG bytes: the same pixels


def test_unit_tiles_read_a_residual_network_through_its_cache() -> None:
    """A residual net's stream units are one group across layers (`symmetry`); a tile shows
    g(P[l]), P[l] = cache[l-1][1], what the next layer reads."""
    from initlab import data
    from initlab.report.tiles import unit_tiles

    ds = data.load("circles")
    net = Network([2, 8, 8, 8, 1], hidden="tanh", init=["zeros", "he"], seed=[0, 0], residual=1)
    t = unit_tiles(net, ds.X_train, steps=12)
    zeros, he = t.member(0), t.member(1)
    assert [lt.effective_width for lt in zeros.layers] == [1, 1, 1] and all(zeros.identical(l) for l in (1, 2, 3))
    assert [lt.effective_width for lt in he.layers] == [8, 8, 8] and not he.identical(3)
    _, cache = net.member(1).forward(np.array([[t.x[3]], [t.y[4]]]))
    for l in (1, 2, 3):
        assert he.layers[l - 1].values[:, 4, 3] == pytest.approx(np.tanh(cache[l - 1][1][:, 0]), rel=1e-12)
    with pytest.raises(InitlabError, match="64 inputs, not 2"):
        unit_tiles(Network([64, 4, 1]), np.zeros((64, 3)))


def test_a_bad_initializer_is_located_in_its_own_field() -> None:
    from initlab.dashboard.app import Dashboard

    where: dict = {}
    _, errors = parse_config({"inits": "zeros,hee,he"}, where=where)
    assert "did you mean he" in errors["inits"] and where == {"inits": 1}
    where = {}
    assert "appears twice" in parse_config({"inits": "he,xavier,random,random:0.01"}, where=where)[1]["inits"]
    assert where == {"inits": 3}
    page = Dashboard({"inits": "zeros,hee,he"})
    order = page.controls.objects
    assert order.index(page.errors["inits"]) == order.index(page.sliders[1]) + 1  # right under Initializer 2
    assert "initlab-bad" in page.slots[1].css_classes and "initlab-bad" not in page.slots[0].css_classes
    assert "address carried values" in page.status.object and "Initializers" in page.status.object
    page.slots[1].value = "xavier"
    assert page.errors["inits"].object == "" and "initlab-bad" not in page.slots[1].css_classes
    page.layers.value = "2,0,1"
    page.train()
    assert "Fix the fields marked in red (Layers)" in page.status.object
    assert "initlab-bad" in page.layers.css_classes and page.layers.stylesheets


def test_lessons_fill_every_field() -> None:
    from initlab.dashboard.app import Dashboard
    from initlab.dashboard.session import DEFAULTS, PRESETS

    page = Dashboard({})
    for name, values in PRESETS.items():
        page.preset.value = name
        want = {**DEFAULTS, **values}
        got = page.values()
        assert {k: got[k] for k in want} == want, name
        assert parse_config(got)[1] == {}, name


def test_the_compare_report_shows_the_tiles_at_init_and_at_the_end() -> None:
    from initlab.experiments.compare import CompareConfig, compare
    from initlab.report.html import render

    result = compare(CompareConfig(layers=(2, 6, 1), inits=("zeros", "he"), lr=0.3, iterations=50, seeds=(0,)))
    page = render(result)
    assert page.count(">zeros: at initialization<") == 1 and page.count(">he: at the end<") == 1
    assert page.count("layer 1 (relu): 1 of 6 distinct") == 2 and page.count("layer 1 (relu): 6 of 6 distinct") == 2
    assert result.tiles_init.member(0).identical(1) and not result.tiles_end.member(1).identical(1)
    assert "P(class 1)" in page and page.count("<figure>") >= 3 * 2  # one picture per init, stacked on a phone


def test_trainer_measures_symmetry_and_stops() -> None:
    cfg, _ = parse_config({"inits": "zeros,he", "iterations": "300", "lr": "0.05"})
    t = Trainer(cfg)
    t.start()
    t.join(60)
    s = t.snapshot
    assert s.done and not s.stopped and s.iteration == 300
    assert s.effective_width[-1][1] == [[1, 1], [10, 5]]
    assert s.sentences[0][0].startswith("layer 1: 1 of 10 units distinct")
    assert s.costs[-1][1][1] < s.costs[-1][1][0]
    out = t.result()
    assert set(out) >= {"config", "costs", "final_cost", "train_accuracy", "test_accuracy"}
    assert out["runs"][1]["config"]["init"] == "he" and out["runs"][1]["final_cost"] == s.costs[-1][1][1]

    # the page's weights are each network's own, units in the user's order, after any chunks
    from initlab import data

    ds = data.load("circles")
    for k, init in enumerate(cfg.inits):
        alone = Network(list(cfg.layers), hidden=cfg.hidden, init=init, seed=cfg.seed)
        alone.fit(ds.X_train, ds.Y_train, lr=cfg.lr, iterations=300)
        assert np.array_equal(s.weights[-1][1][k], alone.params["W1"]), init

    cfg, _ = parse_config({"iterations": "1000000"})
    t = Trainer(cfg)
    t.start()
    wait_for(lambda: t.version >= 3, 30, "three snapshots")
    start = time.monotonic()
    t.stop()
    t.join(5)
    took = time.monotonic() - start
    print(f"dashboard: Stop took {took:.3f} s on the course's network")
    assert not t.running and took < 2.0  # 0.5 s promised; a generous bound on a busy 2-core machine
    assert t.snapshot.stopped and 0 < t.snapshot.iteration < 1_000_000


@pytest.mark.parametrize(
    "values, field, words",
    [
        ({"layers": "2,8,8,8,8,1", "residual": "2"}, "residual", "1 + 2 * blocks"),
        ({"layers": "2,10,5,1", "residual": "1"}, "residual", "one width"),
        ({"norm": "layernorm"}, "norm", "residual"),
        ({"gate": "learned"}, "gate", "residual"),
        ({"layers": "2,8,8,1", "residual": "1", "gate": "maybe"}, "gate", "none, learned or a starting value"),
        ({"layers": "2,8,8,1", "residual": "1", "norm": "batchnorm"}, "norm", "layernorm"),
        ({"residual": "-1"}, "residual", "residual"),
        ({"inits": "he,fixup"}, "inits", "residual"),  # a recipe with no plain form, before drawing
        ({"layers": "2,8,8,1", "residual": "1", "inits": "t_fixup"}, "inits", "t_fixup"),
    ],
)
def test_residual_fields_name_their_own_problem(values, field, words) -> None:
    cfg, errors = parse_config(values)
    assert cfg is None and set(errors) == {field} and words in errors[field], errors


def test_a_residual_network_trains_in_the_dashboard_as_alone() -> None:
    """The page's residual network is the one `Network(..., residual=...)` draws and trains; its
    stream's units are grouped as one set (zeros: one distinct unit in every stream layer)."""
    cfg, errors = parse_config(
        {
            "layers": "2,8,8,8,1",
            "residual": "1",
            "gate": "0.5",
            "norm": "layernorm",
            "inits": "zeros,he",
            "iterations": "40",
            "lr": "0.05",
        }
    )
    assert not errors and cfg.query()["gate"] == "0.5" and parse_config(cfg.query())[0] == cfg
    t = Trainer(cfg)
    t.start()
    t.join(60)
    s = t.snapshot
    assert s.done and s.iteration == 40
    assert s.effective_width[-1][1][0] == [1, 1, 1]
    from initlab import data

    ds = data.load("circles")
    alone = Network(
        [2, 8, 8, 8, 1], hidden=cfg.hidden, init="he", seed=cfg.seed, residual=1, gate=0.5, norm="layernorm"
    )
    alone.fit(ds.X_train, ds.Y_train, lr=0.05, iterations=40)
    assert t.result()["final_cost"][1] == alone.cost(ds.X_train, ds.Y_train)


def wait_for(condition, seconds: float, what: str) -> None:
    """Poll ``condition`` every 10 ms for at most ``seconds``."""
    end = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < end, f"waited {seconds} s for {what}"
        threading.Event().wait(0.01)


def test_size_is_capped_before_anything_is_allocated() -> None:
    import tracemalloc

    deep = "2," + ",".join(["1024"] * 300) + ",1"
    _, errors = parse_config({"layers": deep})
    assert "300 hidden layers" in errors["layers"] and "at most 32" in errors["layers"]
    _, errors = parse_config({"layers": "2,1025,1"})
    assert "1025 units" in errors["layers"] and "at most 1024" in errors["layers"]
    # width and depth each allowed, their product not: one line naming the figure and the limit
    _, errors = parse_config({"layers": "2,1024,1024,1"})
    msg = errors["layers"]
    assert "\n" not in msg and "operations" in msg and "at most" in msg, msg
    assert "fewer" in msg  # says what to change
    # fewer initializers make a bigger network fit: the product counts the ensemble
    assert parse_config({"layers": "2,300,300,1", "inits": "he"})[1] == {}
    # a Config built by hand, past parse_config, is refused before the network exists
    tracemalloc.start()
    with pytest.raises(InitlabError, match="300 hidden layers"):
        Trainer(Config("circles", (2, *[1024] * 300, 1), "relu", ("he",), 0.01, 10, 0))
    with pytest.raises(InitlabError, match="operations"):
        Trainer(Config("circles", (2, 1024, 1024, 1), "relu", ("he", "xavier"), 0.01, 10, 0))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 50 * 2**20, f"{peak / 2**20:.0f} MiB allocated before refusing"


@pytest.mark.parametrize(
    "field", ["data", "layers", "hidden", "inits", "lr", "iterations", "seed", "residual", "gate", "norm"]
)
def test_every_field_is_bounded_and_answers_in_one_short_line(field: str) -> None:
    _, errors = parse_config({field: "9" * 5000})
    assert set(errors) == {field}
    assert "\n" not in errors[field] and len(errors[field]) < 300, errors[field][:400]


def test_numbers_are_plain_bounded_integers() -> None:
    for text in ("1_000", "\u0663", "1e3", " 12 x", "+5", "0x10"):
        assert "iterations" in parse_config({"iterations": text})[1], text
    assert "seed" in parse_config({"seed": "9" * 30})[1]
    assert parse_config({"seed": "4294967295"})[1] == {}
    assert parse_config({"iterations": " 12 "})[0].iterations == 12


def test_at_most_a_few_runs_train_at_once() -> None:
    from initlab.dashboard import session

    cfg, _ = parse_config({"iterations": "1000000"})
    runs = [Trainer(cfg) for _ in range(session.MAX_RUNNING)]
    try:
        for t in runs:
            t.start()
        with pytest.raises(InitlabError, match=f"{session.MAX_RUNNING} runs are training"):
            Trainer(cfg)  # refused before its network is made
    finally:
        for t in runs:
            t.stop()
        for t in runs:
            t.join(10)
    assert not any(t.running for t in runs)
    extra = Trainer(cfg)  # room again: runs asked to stop do not count
    extra.start()
    extra.stop()
    extra.join(10)
    assert not extra.running


def largest_allowed(template: str) -> str:
    """The widest network of ``template`` (W for the width) that the dashboard's caps allow."""
    for width in range(1024, 0, -8):
        layers = template.replace("W", str(width))
        if "layers" not in parse_config({"layers": layers, "iterations": "1000000"})[1]:
            return layers
    raise AssertionError(f"no width of {template} is allowed")


DEEP = "2," + "W," * 32 + "1"  # the most hidden layers the dashboard takes


@pytest.mark.parametrize("template", ["2,W,W,1", pytest.param(DEEP, marks=pytest.mark.slow)], ids=["wide", "deep"])
def test_stop_lands_quickly_on_the_largest_network_allowed(template: str) -> None:
    """Stop is checked between chunks of training sized by the measured time a step takes, and
    between the parts of a measurement; the docs promise 0.5 s, this 2-core machine under
    load gets a generous 2 s bound (the measured figures are printed). Stopped once while it
    trains, once in the middle of a measurement."""
    layers = largest_allowed(template)
    cfg, errors = parse_config({"layers": layers, "iterations": "1000000"})
    assert not errors
    latencies = []
    for during in ("training", "a measurement"):
        t = Trainer(cfg)
        t.start()
        try:
            if during == "training":  # just after a measurement: training resumes
                wait_for(lambda t=t: t.version >= 2, 60, f"2 snapshots of {layers}")
            else:  # a measurement after training began, under way
                wait_for(lambda t=t: t.version >= 2 and t.measuring, 60, f"a measurement of {layers}")
            start = time.monotonic()
            t.stop()
            t.join(10)
            latencies.append(time.monotonic() - start)
        finally:
            t.stop()
            t.join(30)
        assert not t.running and t.snapshot.stopped and t.snapshot.done
        assert t.snapshot.iteration > 0
    print(
        f"dashboard: Stop took {', '.join(f'{x:.3f}' for x in latencies)} s on {layers}, "
        f"4 initializers ({t.measure_seconds:.2f} s a measurement)"
    )
    assert max(latencies) < 2.0, latencies


@pytest.mark.parametrize("deep", [False, pytest.param(True, marks=pytest.mark.slow)], ids=["shallow", "deep"])
def test_the_memory_estimate_covers_what_a_run_allocates(deep: bool) -> None:
    """`estimate`'s bytes against the peak tracemalloc sees (NumPy reports its arrays to it)
    while a run is made, trains and is measured twice (the first snapshot kept, as the page
    keeps it), for networks at the caps: wide, deep, and the digits."""
    import tracemalloc

    from initlab.dashboard.session import estimate

    for data, template in (("circles", "2,W,1"), ("circles", DEEP), ("digits", "64,W,W,10")):
        if template == DEEP and not deep:
            continue
        layers = next(
            template.replace("W", str(w))
            for w in range(1024, 0, -8)
            if "layers" not in parse_config({"data": data, "layers": template.replace("W", str(w))})[1]
        )
        cfg, _ = parse_config({"data": data, "layers": layers})
        tracemalloc.start()
        try:
            t = Trainer(cfg)
            t._measure(0)
            t.training.step(2)  # the trainer's own path: chunks of Training
            t._measure(2)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        bytes_ = estimate(cfg.layers, len(cfg.inits), t.X.shape[1])[1]
        print(f"dashboard: {data} {layers[:30]}: peak {peak / 2**20:.1f} MiB, estimate {bytes_ / 2**20:.1f} MiB")
        assert peak <= bytes_, (layers, peak, bytes_)


def test_the_page_gets_a_new_update_only_once_it_applied_the_last() -> None:
    """Flow control: a page slower than the trainer (a busy machine, no GPU) must not queue
    updates, or a click on Stop and the update that shows it wait behind them (measured
    before: 3 s for the click to reach the server, 5 s for the answer to reach the page)."""
    from initlab.dashboard.app import Dashboard

    board = Dashboard({"iterations": "1000000"})
    board.train()
    try:
        t = board.trainer
        wait_for(lambda: t.version >= 1, 30, "the first snapshot")
        board.tick()
        assert board.sent_count == 1
        seen = board.seen_version
        wait_for(lambda: t.version > seen, 30, "a newer snapshot")
        board.tick()
        assert board.sent_count == 1 and board.seen_version == seen  # the page has not answered
        board._drawn({"n": [1]})  # what the page's callback sends back once it applied update 1
        board.tick()
        assert board.sent_count == 2 and board.seen_version > seen
        board._drawn({"n": ["junk"]})  # whatever a page sends is no count, and no error
        assert board.drawn_count == 1
    finally:
        board.stop()
        board.trainer.join(10)
    assert not board.trainer.running


def test_an_error_in_training_reaches_the_page_state_not_the_server() -> None:
    cfg, _ = parse_config({"iterations": "100"})
    t = Trainer(cfg)

    def broken(*args, **kwargs):
        raise FloatingPointError("injected")

    t.training.step = broken  # every chunk of training goes through it
    t.start()
    t.join(30)
    assert not t.running
    assert t.error == "FloatingPointError: injected"
    assert t.snapshot.error == t.error and t.snapshot.done and t.snapshot.iteration == 0


def test_deep_network_variance_is_measured_beside_the_mean_field() -> None:
    cfg, errors = parse_config({"data": "digits", "layers": "64,64,64,64,10", "inits": "he", "iterations": "1"})
    assert not errors
    t = Trainer(cfg)
    t.start()
    t.join(60)
    s = t.snapshot
    assert len(s.variance_predicted[0]) == 3 and len(s.variance_init[0]) == 3
    # one network of width 64: within a factor of 2 of the prediction at every layer
    ratio = np.array(s.variance_init[0]) / np.array(s.variance_predicted[0])
    assert np.all((ratio > 0.5) & (ratio < 2)), ratio


@pytest.mark.parametrize(
    ("header", "host", "served"),
    [
        ("127.0.0.1:8765", "127.0.0.1", True),
        ("localhost:8765", "127.0.0.1", True),
        ("LOCALHOST:8765", "127.0.0.1", True),
        ("[::1]:8765", "127.0.0.1", True),
        ("127.0.0.2:8765", "127.0.0.2", True),
        ("192.168.1.5:8765", "0.0.0.0", True),
        ("evil.example:8765", "127.0.0.1", False),
        ("evil.example:8765", "0.0.0.0", False),
        ("127.0.0.1.nip.io:8765", "127.0.0.1", False),
        ("localhost:8766", "127.0.0.1", False),
        ("localhost", "127.0.0.1", False),
        ("127.0.0.2:8765", "127.0.0.1", False),
        ("[::1]", "127.0.0.1", False),
        ("", "127.0.0.1", False),
        (None, "127.0.0.1", False),
        ("localhost.:8765", "127.0.0.1", False),
        ("[::1:8765", "127.0.0.1", False),
    ],
)
def test_host_names_the_server_answers_to(header, host, served) -> None:
    from initlab.dashboard import host_allowed

    assert host_allowed(header, 8765, host) is served


# ---------------------------------------------------------------------- the server
def sigint_as_in_a_terminal() -> None:
    """Ctrl-C at its default, as at a terminal (a background job's children inherit it ignored)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``initlab dashboard`` in a session of its own, stopped by its process id. Its output is
    read as it comes (`err` so far), so a test can look for a traceback while it runs."""

    def __init__(self, *args: str, port: int | None = None, env: dict[str, str] | None = None) -> None:
        self.port = port or free_port()
        self.proc = subprocess.Popen(
            [INITLAB, "dashboard", "--no-browser", "--port", str(self.port), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
            preexec_fn=sigint_as_in_a_terminal,
            env=env,
        )
        self.url = f"http://127.0.0.1:{self.port}/"
        self.lines: dict[str, list[str]] = {"out": [], "err": []}
        self.readers = [
            threading.Thread(target=self._read, args=(stream, self.lines[name]), daemon=True)
            for name, stream in (("out", self.proc.stdout), ("err", self.proc.stderr))
        ]
        for r in self.readers:
            r.start()

    @staticmethod
    def _read(stream, into: list[str]) -> None:
        for line in stream:
            into.append(line)

    @property
    def err(self) -> str:
        return "".join(self.lines["err"])

    def wait_ready(self, host: str = "127.0.0.1") -> None:
        for _ in range(60):  # at most 60 requests, 0.5 s apart
            assert self.proc.poll() is None, self.stop()
            try:
                with urllib.request.urlopen(f"http://{host}:{self.port}/", timeout=5) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        raise AssertionError("the dashboard never answered")

    def stop(self) -> tuple[str, str]:
        """Ctrl-C (SIGINT), as a user would; SIGKILL if it does not stop in 15 s. Returns
        (stdout, stderr)."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=15)
        for r in self.readers:
            r.join(15)
        return "".join(self.lines["out"]), self.err


def http(port: int, path: str, host: str, *headers: str, timeout: float = 10.0) -> tuple[int, str]:
    """One raw HTTP/1.1 GET to 127.0.0.1:``port`` carrying ``Host: host``: (status, body).
    Reads the body its Content-Length gives (or to the close): at most 4 MB, ``timeout`` s."""
    head = "".join(f"{h}\r\n" for h in (f"GET {path} HTTP/1.1", f"Host: {host}", "Connection: close", *headers))
    data, end = b"", time.monotonic() + timeout
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall((head + "\r\n").encode("latin-1"))
        while len(data) < 4 * 2**20 and time.monotonic() < end:
            top, _, body = data.partition(b"\r\n\r\n")
            length = [
                int(line.split(b":", 1)[1])
                for line in top.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            ]
            if _ and length and len(body) >= length[0]:
                break
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    status = int(data.split(b" ", 2)[1])
    return status, data.partition(b"\r\n\r\n")[2].decode("utf-8", "replace")


#: A module that leaves a file behind when imported: the server runs with its folder on
#: PYTHONPATH, so a route that imports a module named in the URL would import it.
PROBE_MODULE = "initlab_import_probe"


@pytest.fixture(scope="module")
def probe_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("probe")
    (d / f"{PROBE_MODULE}.py").write_text(
        f"from pathlib import Path\nPath({str(d / 'imported')!r}).write_text('imported')\n"
    )
    return d


@pytest.fixture(scope="module")
def server(probe_dir):
    path = os.pathsep.join(p for p in (str(probe_dir), os.environ.get("PYTHONPATH")) if p)
    srv = Server(env={**os.environ, "PYTHONPATH": path})
    srv.wait_ready()
    yield srv
    out, err = srv.stop()
    assert srv.proc.returncode == 0, err
    assert "initlab dashboard stopped" in err and "Traceback" not in err


def test_binds_to_loopback_by_default_and_reports_a_busy_port(server) -> None:
    import psutil

    listening = {
        c.laddr.ip
        for c in psutil.Process(server.proc.pid).net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN
    }
    assert listening == {"127.0.0.1"}
    r = subprocess.run(
        [INITLAB, "dashboard", "--no-browser", "--port", str(server.port)], capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        f"error: cannot serve on 127.0.0.1:{server.port}: Address already in use "
        "(the port is in use; pick another with --port)"
    ]


@pytest.mark.slow  # 8 s: a second server; the loopback rule stays in make test (only_loopback_host_names)
def test_another_host_is_served_with_a_warning() -> None:
    srv = Server("--host", "127.0.0.2")
    try:
        srv.wait_ready("127.0.0.2")
    finally:
        out, err = srv.stop()
    assert "warning: serving on 127.0.0.2" in err


def test_only_loopback_host_names_are_served(server) -> None:
    """DNS rebinding: a page of evil.example whose name now resolves to 127.0.0.1 sends
    ``Host: evil.example:PORT``; every route (page, static files, websocket) refuses it."""
    p = server.port
    status, page = http(p, "/", f"127.0.0.1:{p}")
    assert status == 200
    static = page.split('src="', 1)[1].split('"', 1)[0]  # a script the page loads
    assert static.startswith("static/") or static.startswith("/static/"), static
    static = "/" + static.lstrip("/")
    for host in (f"127.0.0.1:{p}", f"localhost:{p}", f"LocalHost:{p}", f"[::1]:{p}"):
        assert http(p, "/", host)[0] == 200, host
        assert http(p, static, host)[0] == 200, host
    ws = (
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Version: 13",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    )
    for host in (
        f"evil.example:{p}",
        "evil.example",
        f"127.0.0.1.evil.example:{p}",
        f"localhost:{p + 1}",
        f"evil.example:{p}@127.0.0.1:{p}",
        "",
    ):
        for path in ("/", static, "/ws", "/components/panel.layout.base/Column/_css/x.css"):
            status, body = http(p, path, host, *(ws if path == "/ws" else ()), f"Origin: http://{host}")
            if "@" in host and status == 400:  # not a host name at all: Tornado's own refusal
                continue
            assert status == 403, (host, path, status, body[:200])
            assert len(body.strip().splitlines()) == 1 and "Host" in body, body[:300]


def test_a_huge_or_odd_query_is_one_line_not_a_traceback(server) -> None:
    host = f"127.0.0.1:{server.port}"
    for query, named in (
        ("iterations=" + "9" * 5000, "iterations"),
        ("seed=" + "1" * 5000, "seed"),
        ("layers=%C2%B2", None),
        ("lr=" + "[" * 3000, None),
    ):
        for path in ("/", "/autoload.js"):
            status, body = http(server.port, f"{path}?{query}", host)
            assert status == 400, (path, query[:40], status, body[:300])
            lines = body.strip().splitlines()
            assert len(lines) == 1 and len(lines[0]) < 400 and "Traceback" not in body, body[:400]
            assert named is None or named in body
    assert http(server.port, "/?iterations=123", host)[0] == 200  # the server keeps serving


def test_the_component_route_imports_no_module_named_in_the_url(server, probe_dir) -> None:
    host = f"127.0.0.1:{server.port}"
    for path in (
        f"/components/{PROBE_MODULE}/X/_css/y",
        f"/components/{PROBE_MODULE}.sub/X/_css/y",
        "/components/this/X/_css/y",
    ):
        status, body = http(server.port, path, host)
        assert status == 404 and len(body.strip().splitlines()) <= 1, (path, status, body[:300])
    assert not (probe_dir / "imported").exists(), "the server imported a module named in a URL"


def time_wait_on(port: int) -> list:
    import psutil

    return [
        c
        for c in psutil.net_connections(kind="tcp")
        if c.laddr and c.laddr.port == port and c.status == psutil.CONN_TIME_WAIT
    ]


@pytest.mark.slow  # 10 s: a restart on a port in TIME_WAIT (make test-all)
def test_a_port_whose_old_connections_wait_in_time_wait_is_served() -> None:
    """What a server stopped a moment ago leaves on its port, made here in a few milliseconds:
    a connection this side closed first waits in TIME-WAIT for a minute. The dashboard must
    serve on that port at once (the restart after Ctrl-C is the slow test below)."""
    port = free_port()
    with socket.socket() as listener:
        # as Tornado's listening socket: its connections' TIME-WAIT then allows reuse
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen()
        client = socket.create_connection(("127.0.0.1", port), timeout=10)
        conn, _ = listener.accept()
        conn.close()  # the server's side closes first ...
        assert client.recv(1) == b""
        client.close()  # ... and waits in TIME-WAIT once the client closed too
    assert time_wait_on(port), "no TIME-WAIT socket on the port: the test would not test the restart"
    srv = Server(port=port)
    try:
        srv.wait_ready()
    finally:
        out, err = srv.stop()
    assert srv.proc.returncode == 0 and "Traceback" not in err, err


@pytest.mark.slow
def test_a_restart_right_after_ctrl_c_binds_the_same_port() -> None:
    """Ctrl-C leaves the server's closed connections in TIME-WAIT on its port for a minute;
    a restart at once on that port must serve (address reuse), not say "in use"."""
    first = Server()
    try:
        first.wait_ready()
        conn = socket.create_connection(("127.0.0.1", first.port), timeout=10)
        conn.sendall(f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{first.port}\r\n\r\n".encode())
        assert conn.recv(12).startswith(b"HTTP/1.1")  # a keep-alive connection the server will close
    finally:
        out, err = first.stop()
    assert first.proc.returncode == 0, err
    end = time.monotonic() + 10
    while conn.recv(65536) and time.monotonic() < end:  # read to the server's close, then close:
        pass  # the server's side waits in TIME-WAIT
    conn.close()
    assert time_wait_on(first.port), "no TIME-WAIT socket on the port: the test would not test the restart"
    second = Server(port=first.port)
    try:
        second.wait_ready()
    finally:
        out, err = second.stop()
    assert second.proc.returncode == 0 and "Traceback" not in err, err


# ---------------------------------------------------------------------- the browser
@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium); .ci/run does it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield b
        b.close()


#: Runs in the page: the distinct iteration numbers it showed over ``ms`` milliseconds, read every
#: 15 ms (Panel draws each pane in a shadow root: the search walks into them).
COUNT_UPDATES = """async (ms) => {
  const find = (root) => {
    for (const el of root.querySelectorAll('*')) {
      if (el.classList && el.classList.contains('initlab-iteration')) return el;
      if (el.shadowRoot) { const f = find(el.shadowRoot); if (f) return f; }
    }
    return null;
  };
  const seen = new Set(), t0 = performance.now();
  while (performance.now() - t0 < ms) {
    const e = find(document);
    if (e) seen.add(e.textContent);
    await new Promise(r => setTimeout(r, 15));
  }
  return Array.from(seen);
}"""


#: Runs in the page on an <img>: its pixels as decoded, as one string of RGBA bytes.
PIXELS = """img => {
  const c = document.createElement('canvas');
  c.width = img.naturalWidth; c.height = img.naturalHeight;
  const g = c.getContext('2d');
  g.drawImage(img, 0, 0);
  return c.width + 'x' + c.height + ':' + Array.from(g.getImageData(0, 0, c.width, c.height).data).join(',');
}"""


class Page:
    """A tab with everything it requested and every console error recorded; requests that
    would leave 127.0.0.1 are recorded and aborted."""

    def __init__(self, browser, width: int = 1280, height: int = 800) -> None:
        self.page = browser.new_page(viewport={"width": width, "height": height})
        self.outside, self.errors = [], []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

        def route(r):
            url = r.request.url
            if url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "blob:", "data:")):
                r.continue_()
            else:
                self.outside.append(url)
                r.abort()

        self.page.route("**/*", route)

    def open(self, url: str) -> Page:
        self.page.goto(url, wait_until="networkidle", timeout=60_000)
        self.page.locator(".initlab-train button").wait_for(timeout=30_000)
        return self

    def state(self) -> str:
        """The page's state ('' when none is shown); the status may change while it is read."""
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        loc = self.page.locator(".initlab-state")
        try:
            return (loc.get_attribute("data-state", timeout=1000) or "") if loc.count() else ""
        except PlaywrightTimeout:  # it went between count() and the read
            return ""

    def wait_state(self, *states: str, timeout: float = 60) -> float:
        start = time.monotonic()
        while self.state() not in states:
            assert time.monotonic() - start < timeout, f"page state {self.state()!r}, waited for {states}"
            self.page.wait_for_timeout(50)
        return time.monotonic() - start

    def rows(self) -> dict[str, dict]:
        return {
            r.get_attribute("data-init"): {
                "cost": float(r.get_attribute("data-cost")),
                "width": r.get_attribute("data-width"),
            }
            for r in self.page.locator("tr.initlab-row").all()
        }

    def close(self) -> None:
        assert not self.outside, f"requests left 127.0.0.1: {self.outside}"
        self.page.close()


def test_page_loads_with_no_console_error_and_nothing_leaves_loopback(server, browser) -> None:
    p = Page(browser).open(server.url)
    p.page.wait_for_timeout(500)
    assert p.errors == []
    assert p.page.locator(".initlab-init-0 input").input_value() == "zeros"
    assert [p.page.locator(f".initlab-init-{k} input").input_value() for k in range(4)] == [
        "zeros",
        "random:0.01",
        "random:10",
        "he",
    ]
    p.close()


def test_zeros_against_he_on_circles(server, browser) -> None:
    p = Page(browser).open(
        server.url + "?data=circles&layers=2,10,5,1&hidden=relu&inits=zeros,he&lr=0.05&iterations=300&seed=0"
    )
    p.page.locator(".initlab-train button").click()
    p.wait_state("done")
    rows = p.rows()
    assert rows["zeros"]["width"] == "1,1" and rows["he"]["width"] == "10,5"
    assert rows["he"]["cost"] < rows["zeros"]["cost"]
    text = p.page.locator("ul.initlab-sentences").inner_text()
    assert "layer 1: 1 of 10 units distinct: every hidden unit computes the same function" in text
    assert "layer 1: 10 of 10 units distinct" in text
    assert p.page.locator(".initlab-iteration").inner_text() == "300"
    with p.page.expect_download() as dl:
        p.page.locator(".initlab-download").locator("a, button").first.click()
    run = json.loads(Path(dl.value.path()).read_text())
    assert {"config", "costs", "final_cost", "train_accuracy", "test_accuracy"} <= set(run)
    assert run["config"]["init"] == ["zeros", "he"] and run["runs"][1]["final_cost"] == pytest.approx(
        rows["he"]["cost"], rel=1e-9
    )
    assert p.errors == []
    p.close()


@pytest.mark.slow  # 13 s: the update rate measured in the browser (make test-all)
def test_live_updates_and_the_compare_view_at_two_widths(server, browser) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    p = Page(browser).open(server.url + "?iterations=1000000&lr=0.05")  # the course's story, 4 inits
    p.page.locator(".initlab-train button").click()
    p.wait_state("training")
    seen = p.page.evaluate(COUNT_UPDATES, 3000)  # counted in the page, every 15 ms, for 3 s
    assert p.state() == "training"
    rate = len(seen) / 3.0
    # live: the page changes while training runs. The rate itself is a speed, printed (and
    # depends on the machine and its load: 5-8 a second on an idle 2-core machine, 2-3 with
    # four other jobs on its 2 cores), not asserted: speed belongs in `make bench`, never in a
    # timed test.
    print(f"dashboard: {rate:.1f} page updates a second (iteration shown changed {len(seen)} times in 3 s)")
    assert len(seen) >= 2, f"the page did not change while training: {seen}"
    p.page.locator(".initlab-stop button").click()
    took = p.wait_state("stopped", timeout=60)
    print(f"dashboard: Stop took effect in the page after {took:.2f} s")
    # generous: the trainer stops within a step or a part of a measurement (< 2 s tested above);
    # the page adds a round trip or two through a browser that may be slow to draw
    assert took < 10, f"Stop took {took:.1f} s to show in the page"
    p.page.evaluate("window.scrollTo(0, 0)")
    p.page.wait_for_timeout(300)
    p.page.screenshot(path=str(SHOTS / "dashboard-1280.png"), full_page=False)
    p.page.set_viewport_size({"width": 375, "height": 800})
    p.page.wait_for_timeout(500)
    p.page.evaluate("window.scrollTo(0, 0)")
    p.page.screenshot(path=str(SHOTS / "dashboard-375.png"), full_page=False)
    width = p.page.evaluate("document.documentElement.scrollWidth")
    assert width <= 380, f"the page is {width} px wide at a 375 px viewport"
    assert p.errors == []
    p.close()


def test_bad_input_shows_next_to_its_field_and_the_server_keeps_serving(server, browser) -> None:
    p = Page(browser).open(server.url)
    layers = p.page.locator(".initlab-layers input")
    layers.fill("2,0,1")
    layers.press("Enter")
    err = p.page.locator(".initlab-msg[data-field=layers]")
    err.wait_for(timeout=10_000)
    assert "layer 1 has width 0" in err.inner_text()
    p.page.locator(".initlab-train button").click()
    p.page.wait_for_timeout(500)
    assert p.state() == ""  # nothing trained
    p.close()
    q = Page(browser).open(server.url + "?inits=zeros,hee&iterations=100000000&lr=-1&layers=2,1024,1024,1")
    assert "did you mean he" in q.page.locator(".initlab-msg[data-field=inits]").inner_text()
    assert "operations" in q.page.locator(".initlab-msg[data-field=layers]").inner_text()
    assert "1 to 1,000,000" in q.page.locator(".initlab-msg[data-field=iterations]").inner_text()
    assert "learning rate" in q.page.locator(".initlab-msg[data-field=lr]").inner_text()
    q.close()
    with urllib.request.urlopen(server.url, timeout=10) as r:
        assert r.status == 200


def test_buttons_change_the_plots_under_the_document_lock(server, browser) -> None:
    """Panel runs a click as a coroutine, outside Bokeh's document lock, when a field's change is
    still pending (typed a moment before): a plot's data changed right there raised in the
    server ("_pending_writes should be non-None ...") and Reset stopped half-way (3 runs of 3
    on the previous code). Typed, then clicked at once, Reset must finish."""
    p = Page(browser).open(server.url + "?inits=zeros,he&iterations=50")
    p.page.locator(".initlab-train button").click()
    p.wait_state("done")
    p.page.locator(".initlab-lr input").press_sequentially("0.0", delay=5)  # pending when ...
    p.page.locator(".initlab-reset button").click()  # ... the click lands
    end = time.monotonic() + 30
    while p.state() or p.page.locator("tr.initlab-row").count():  # Reset's end: no state, no table
        assert time.monotonic() < end, f"Reset did not finish; the server said: {server.err[-1500:]}"
        p.page.wait_for_timeout(50)
    assert p.page.get_by_text("Press Train.").count() == 1
    assert "Traceback" not in server.err, server.err[-3000:]
    assert p.errors == []
    p.close()


@pytest.mark.slow  # 7 s in the browser; parse_config(cfg.query()) == cfg is checked in make test
def test_a_url_carrying_a_configuration_is_restored(server, browser) -> None:
    p = Page(browser).open(
        server.url + "?data=moons&layers=2,8,1&hidden=tanh&inits=xavier,random:0.1&lr=0.2&iterations=123&seed=7"
    )
    pg = p.page
    assert pg.locator(".initlab-layers input").input_value() == "2,8,1"
    assert pg.locator(".initlab-iterations input").input_value() == "123"
    assert pg.locator(".initlab-lr input").input_value() == "0.2"
    assert pg.locator(".initlab-seed input").input_value() == "7"
    assert [pg.locator(f".initlab-init-{k} input").input_value() for k in range(3)] == ["xavier", "random:0.1", ""]
    assert pg.locator(".initlab-data select").input_value() == "moons"
    assert pg.locator(".initlab-hidden select").input_value() == "tanh"
    pg.locator(".initlab-train button").click()
    p.wait_state("done")
    assert set(p.rows()) == {"xavier", "random:0.1"}
    assert "iterations=123" in pg.url and "data=moons" in pg.url
    p.close()


def test_stop_mid_run_and_two_tabs_do_not_share_runs(server, browser) -> None:
    a = Page(browser).open(server.url + "?iterations=1000000")
    b = Page(browser).open(server.url)
    a.page.locator(".initlab-train button").click()
    a.wait_state("training")
    a.page.wait_for_timeout(700)
    assert b.state() == "" and b.rows() == {}  # the other tab sees nothing of it
    a.page.locator(".initlab-stop button").click()
    a.wait_state("stopped")  # the default bound (60 s): that Stop stops, not how fast
    stopped_at = a.page.locator(".initlab-iteration").inner_text()
    a.page.wait_for_timeout(800)
    assert a.page.locator(".initlab-iteration").inner_text() == stopped_at
    assert 0 < int(stopped_at) < 1_000_000
    a.close()
    b.close()


def test_unit_tiles_in_the_page_zeros_one_picture_boxed_he_distinct(server, browser) -> None:
    p = Page(browser).open(
        server.url
        + "?data=moons&layers=2,10,5,1&hidden=sigmoid&inits=zeros,constant:0.3,he&lr=0.5&iterations=60&seed=0"
    )
    p.page.locator(".initlab-train button").click()
    p.wait_state("done")
    units = p.page.locator(".initlab-units")
    for init, symmetric in (("zeros", True), ("constant:0.3", True), ("he", False)):
        layer = units.locator(f"[data-init='{init}'] .tl-layer[data-layer='1']")
        tiles = layer.locator("img.initlab-tile")
        assert tiles.count() == 10, init
        # the pixels Chromium decoded, read back through a canvas (a screenshot of each <img>
        # would also differ by where its edge falls between device pixels)
        shots = {tiles.nth(j).evaluate(PIXELS) for j in range(10)}
        boxed = layer.locator(".tl-group.tl-shared")
        if symmetric:
            assert len(shots) == 1, f"{init}: {len(shots)} different tiles in a symmetric layer"
            assert boxed.count() == 1 and boxed.locator("img").count() == 10
            assert layer.get_attribute("data-distinct") == "1" and "1 of 10 distinct" in layer.inner_text()
        else:
            assert len(shots) == 10, f"{init}: only {len(shots)} different tiles"
            assert boxed.count() == 0 and layer.get_attribute("data-distinct") == "10"
    assert p.errors == []
    p.close()


def test_a_lesson_loads_every_field_and_the_address(server, browser) -> None:
    from initlab.dashboard.session import PRESETS

    p = Page(browser).open(server.url)
    name = "large weights saturate"
    p.page.locator(".initlab-preset select").select_option(label=name)
    want = PRESETS[name]["inits"].split(",")
    end = time.monotonic() + 20
    while [p.page.locator(f".initlab-init-{k} input").input_value() for k in range(4)] != want:
        assert time.monotonic() < end, "the lesson did not fill the initializers"
        p.page.wait_for_timeout(100)
    assert p.page.locator(".initlab-data select").input_value() == "flower"
    assert p.page.locator(".initlab-lr input").input_value() == "1.2"
    assert p.page.locator(".initlab-hidden select").input_value() == "tanh"
    p.page.wait_for_timeout(300)
    assert "data=flower" in p.page.url and "lr=1.2" in p.page.url
    p.page.locator(".initlab-train button").click()
    p.wait_state("done")
    assert set(p.rows()) == set(want)
    assert p.errors == []
    p.close()


def test_an_error_sits_under_its_own_field_outlined(server, browser) -> None:
    """A bad Initializer 2 is said under Initializer 2 (it was under Initializer 4), the field is
    outlined in red, and a URL with bad values says so in the status (it said 'Press Train.')."""
    p = Page(browser).open(server.url + "?inits=zeros,hee,he,xavier")
    msg = p.page.locator(".initlab-msg[data-field=inits]")
    assert "did you mean he" in msg.inner_text() and msg.get_attribute("data-slot") == "1"
    y = msg.bounding_box()["y"]
    slot = [p.page.locator(f".initlab-init-{k} input").bounding_box()["y"] for k in range(4)]
    assert slot[1] < y < slot[2], (slot, y)

    def border(sel: str) -> str:
        return p.page.locator(sel).evaluate("e => getComputedStyle(e).borderTopColor")

    assert border(".initlab-init-1 input") == "rgb(176, 0, 32)"
    assert border(".initlab-init-0 input") != "rgb(176, 0, 32)"
    status = p.page.locator(".initlab-fix")
    assert "address carried values" in status.inner_text() and "Initializers" in status.inner_text()
    lr = p.page.locator(".initlab-lr input")
    lr.fill("fast")
    lr.press("Enter")
    p.page.locator(".initlab-msg[data-field=lr]").wait_for(timeout=10_000)
    p.page.locator(".initlab-train button").click()
    p.page.wait_for_timeout(500)
    assert "Initializers, Learning rate" in p.page.locator(".initlab-fix").inner_text()
    assert border(".initlab-lr input") == "rgb(176, 0, 32)"
    assert p.state() == ""
    p.close()
