"""compare, its report and JSON, the demos and the reproductions: measured on real runs."""

import json
from html.parser import HTMLParser

import numpy as np
import pytest

from initlab import cli
from initlab.errors import InitlabError
from initlab.experiments import CompareConfig, compare
from initlab.experiments.compare import parse_seeds
from initlab.experiments.demos import saturation_story, symmetry_story, walkthrough
from initlab.experiments.reproduce import PUBLISHED_PLANAR, reproduce
from initlab.report.html import figures, write_report

from .test_json import strict


@pytest.fixture(scope="module")
def circles():
    """The course's circles experiment (2-10-5-1 ReLU, lr 0.01, 15,000 iterations), 3 seeds."""
    return compare(CompareConfig(inits=("zeros", "random:10", "he"), seeds=(0, 1, 2)))


def test_course_circles_experiment(circles):
    by = {row["init"]: row for row in circles.summary()}
    assert by["zeros"]["train_accuracy_mean"] == pytest.approx(0.5, abs=0.02)
    assert all(by["zeros"]["symmetric_every_step"])
    assert by["zeros"]["effective_width_mean"] == [1.0, 1.0]
    for r in circles.runs:
        if r.config.init == "he":
            assert r.train_accuracy >= 0.95
            assert r.end.effective_width == (10, 5) and not r.symmetric_every_step
    assert by["zeros"]["train_accuracy_mean"] < by["random:10"]["train_accuracy_mean"] < by["he"]["train_accuracy_mean"]


def test_each_run_equals_training_it_alone(circles):
    """One ensemble holds every (init, seed); member k is Network(init, seed) trained alone."""
    from initlab import Network, data

    ds = data.load("circles")
    net = Network([2, 10, 5, 1], hidden="relu", init="random:10", seed=1)
    net.fit(ds.X_train, ds.Y_train, lr=0.01, iterations=15000)
    run = next(r for r in circles.runs if r.config.init == "random:10" and r.config.seed == 1)
    assert run.train_accuracy == net.accuracy(ds.X_train, ds.Y_train)
    assert run.final_cost == pytest.approx(net.cost(ds.X_train, ds.Y_train), rel=1e-9)


def test_course_table_from_measurements(circles):
    t = circles.course_table()
    assert t["zero"]["init"] == "zeros" and t["random"]["init"] == "random:10"
    assert "1 of 10, 1 of 5" == t["zero"]["effective_units"]
    assert "10 of 10, 5 of 5" == t["random"]["effective_units"]
    assert "identical" in t["zero"]["gradients"] and "differ" in t["random"]["gradients"]
    only_random = compare(CompareConfig(inits=("he",), seeds=(0,), iterations=10))
    with pytest.raises(InitlabError, match="course table needs"):
        only_random.course_table()


class Checker(HTMLParser):
    """Collects tags, checks nesting of non-void elements and every URL in the page."""

    VOID = {"meta", "img", "br", "hr", "link", "input", "col", "source", "wbr"}

    def __init__(self):
        super().__init__()
        self.stack, self.errors, self.images, self.urls = [], [], 0, []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            self.images += 1
            if not a.get("src", "").startswith("data:image/png;base64,"):
                self.errors.append(f"image not embedded: {a.get('src', '')[:40]}")
        for key in ("src", "href"):
            if key in a:
                self.urls.append(a[key])
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}> (open: {self.stack[-3:]})")
        else:
            self.stack.pop()


def test_report_is_valid_self_contained_and_json_matches(circles, tmp_path):
    paths = write_report(circles, tmp_path / "out", course_table=True)
    html = paths["html"].read_text()
    assert html.startswith("<!DOCTYPE html>") and 'name="viewport"' in html
    c = Checker()
    c.feed(html)
    assert c.errors == [] and c.stack == []
    # one picture per figure or per panel of one (an init's boundary, its histograms), and one
    # tile per hidden unit per init at the start and the end (2-10-5-1: 15 units, 3 inits)
    tiles = html.count("class='initlab-tile'")
    pictures = sum(len(f.get("panels", [])) or 1 for f in figures(circles))
    assert tiles == 2 * 3 * 15 and c.images == pictures + tiles
    assert all(u.startswith("data:") for u in c.urls)
    assert "http://" not in html and "https://" not in html
    results = json.loads(paths["json"].read_text())
    assert results["summary"] == json.loads(json.dumps(circles.summary()))
    for r in results["results"]:
        assert {"init", "seed"} <= set(r["config"])
        assert {
            "id",
            "train_accuracy",
            "test_accuracy",
            "final_cost",
            "effective_width",
            "symmetric_every_step",
        } <= set(r)
    for row in results["summary"]:
        assert f"{100 * row['train_accuracy_mean']:.1f}%" in html


def test_cli_compare_table_matches_json(capsys, tmp_path):
    argv = [
        "compare",
        "--data",
        "moons",
        "--layers",
        "2,6,1",
        "--hidden",
        "tanh",
        "--inits",
        "zeros,he",
        "--lr",
        "0.5",
        "--iterations",
        "300",
        "--seeds",
        "2",
    ]
    with pytest.raises(SystemExit):
        cli.main(argv + ["--json"])
    data = json.loads(capsys.readouterr().out)
    with pytest.raises(SystemExit):
        cli.main(argv + ["--report", str(tmp_path / "r"), "--course-table"])
    table = capsys.readouterr().out
    for row in data["summary"]:
        assert f"{100 * row['train_accuracy_mean']:.1f}% ± {100 * row['train_accuracy_std']:.1f}" in table
        assert f"{row['final_cost_mean']:.4f}" in table
    assert (tmp_path / "r" / "report.html").exists() and "The course's table" in table
    assert len(data["results"]) == 4 and {r["config"]["seed"] for r in data["results"]} == {0, 1}


def test_parse_seeds_and_bad_config():
    assert parse_seeds("3") == (0, 1, 2) and parse_seeds("4,9") == (4, 9)
    for bad in ("0", "x", "1,-2"):
        with pytest.raises(InitlabError):
            parse_seeds(bad)
    with pytest.raises(InitlabError, match="did you mean he"):
        CompareConfig(inits=("hee",))
    with pytest.raises(InitlabError, match="needs 1 output"):
        compare(CompareConfig(layers=(2, 3, 2), iterations=1))


# ------------------------------------------------------------------------------ demos
def test_walkthrough_measures_the_induction():
    w = walkthrough(updates=3)
    zeros, rand = w.steps["zeros"], w.steps["random:0.01"]
    assert len(zeros) == 4 and all(s["effective_width"] == 1 and s["dW1_rows_identical"] for s in zeros)
    assert np.abs(np.array(zeros[-1]["W1"])).max() > 0  # the identical rows did move
    assert all(s["effective_width"] == 3 and not s["dW1_rows_identical"] for s in rand)
    assert [g["init"] for g in w.good] == ["random:0.01", "xavier", "he"]
    assert "1 of 3 units distinct" in "\n".join(w.lines())


def test_symmetry_story_says_what_it_measured():
    s = symmetry_story(iterations=600)
    assert s.runs["zeros"]["symmetric_every_step"] is True
    assert set(s.runs["zeros"]["effective_width"]) == {1}
    assert s.runs["random:0.01"]["symmetric_every_step"] is False
    per = {a["activation"]: a for a in s.per_activation}
    for act in ("tanh", "relu"):
        assert per[act]["learned"] == ["b2"]
        assert "hidden weights stayed exactly 0" in per[act]["sentence"]
        assert "only the output bias learned" in per[act]["sentence"]
    assert "ONE unit" in per["sigmoid"]["sentence"]
    text = "\n".join(s.lines())
    assert "stayed one function the whole time" in text


def test_saturation_story_grows_with_scale():
    s = saturation_story(iterations=300)
    for hidden in ("sigmoid", "tanh"):
        rows = [r for r in s.rows if r["hidden"] == hidden]
        sat = [r["saturated_at_init"] for r in rows]
        assert sat == sorted(sat) and sat[-1] > 0.9
        assert rows[-1]["final_cost"] > rows[0]["final_cost"]


# ------------------------------------------------------------------------- reproduce
def test_reproduce_course_planar_matches_published():
    r = reproduce("course-planar")
    rows = {row.get("n_h", "lr"): row for row in r.rows}
    assert rows["lr"]["measured"] == pytest.approx(47.0, abs=1.0)
    for n_h, pub in PUBLISHED_PLANAR["hidden_sizes"].items():
        tol = 1.5 if n_h in PUBLISHED_PLANAR["approximate"] else 0.01
        assert rows[n_h]["measured"] == pytest.approx(pub, abs=tol)


def test_reproduce_course_initialization(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["reproduce", "course-initialization", "--json"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    rows = {r["initialization"]: r for r in strict(out)["rows"]}
    for r in rows.values():
        assert r["measured_train_accuracy"] == pytest.approx(r["published_train_accuracy"], abs=1e-9)
        assert r["measured_test_accuracy"] == pytest.approx(r["published_test_accuracy"], abs=1e-9)
        assert len(r["measured_costs"]) == 15
    np.testing.assert_allclose(rows["he"]["measured_costs"], rows["he"]["published_costs"], rtol=1e-12)
    np.testing.assert_allclose(rows["random"]["measured_costs"][1:], rows["random"]["published_costs"][1:], atol=5e-3)
    assert rows["random"]["measured_costs"][0] == "Infinity"  # strict JSON spells inf so
