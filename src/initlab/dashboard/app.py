"""The dashboard's page (Panel on Bokeh): controls, live pictures, the URL as the configuration.

Each browser tab gets its own page, `Trainer` and periodic callback: tabs never see each
other's runs. Training runs in the trainer's thread; a 60 ms periodic callback on the server's
event loop copies the latest measured snapshot into the plots' data sources (the page redraws
only when a new snapshot exists, about 12 a second while training).
"""

from __future__ import annotations

import html
import io
import math

import numpy as np

from initlab import initializers
from initlab.dashboard.session import (
    DATASETS,
    DEFAULTS,
    GATES,
    MAX_INITS,
    NORM_FIELD,
    PICTURES_EVERY,
    PRESETS,
    Trainer,
    parse_config,
    split_inits,
)
from initlab.errors import InitlabError
from initlab.nn import HIDDEN
from initlab.report import plots
from initlab.report.plots import COLOURS
from initlab.report.strict_json import to_json

PLOT_W, PLOT_H = 340, 250
REFRESH_MS = 60
HIST_BINS = 30  # bins of the activation and gradient histograms
#: Seconds an update waits for the page to say it applied the previous one (then it is sent
#: anyway: a page that reconnected never answers the update it lost).
ACK_SECONDS = 5.0
#: Seconds between redraws of the heavy pictures (unit tiles, boundaries, histograms, weights,
#: variance; `session.PICTURES_EVERY`, the rate the trainer measures the grid pictures at):
#: every update carries the status line, the cost and width curves and the table; the pictures
#: come with an update at most this often, and always with the last one.
#: Points a history line (cost, effective width, unit weights) is thinned to: it grows with
#: every snapshot, and the page is sent all of it each time.
MAX_POINTS = 300

CSS = """
.initlab-error { color: #b00020; font-size: 0.85em; margin-top: -6px; }
.initlab-formula { color: #555; font-size: 0.8em; margin-top: -8px; }
.initlab-status { font-size: 0.9em; }
.initlab-status .initlab-fix { color: #b00020; }
table.initlab-results { border-collapse: collapse; font-size: 0.85em; }
table.initlab-results td, table.initlab-results th {
  padding: 2px 6px; border-bottom: 1px solid #eee; text-align: right; }
table.initlab-results td:first-child, table.initlab-results th:first-child { text-align: left; }
.initlab-swatch { display: inline-block; width: 10px; height: 10px; margin-right: 4px; border-radius: 2px; }
ul.initlab-sentences { margin: 0; padding-left: 1.1em; font-size: 0.85em; }
"""


#: A field whose value is wrong: its box outlined in red (a widget's own stylesheet: Panel draws
#: each widget in a shadow root, where the page's CSS does not reach).
BAD_CSS = """
.bk-input, select, input { border: 2px solid #b00020 !important; box-shadow: 0 0 0 1px #b00020 !important; }
"""
#: The fields' names as the page labels them (the status line names the fields to fix).
LABELS = {
    "data": "Data set",
    "layers": "Layers",
    "hidden": "Hidden activation",
    "residual": "Residual",
    "gate": "Gate per block",
    "norm": "Norm before each branch",
    "inits": "Initializers",
    "lr": "Learning rate",
    "iterations": "Iterations",
    "seed": "Seed",
}
PRESET_PROMPT = "(pick a lesson)"


def _fig(title: str, *, y_log: bool = False, x_label: str = "", y_label: str = "", **kw):
    from bokeh.plotting import figure

    f = figure(
        title=title, width=PLOT_W, height=PLOT_H, toolbar_location=None, y_axis_type="log" if y_log else "linear", **kw
    )
    f.xaxis.axis_label, f.yaxis.axis_label = x_label, y_label
    f.title.text_font_size = "11pt"
    return f


def _lines(xs: list, ys: list, colors: list, dashes: list, labels: list) -> dict:
    return {"xs": xs, "ys": ys, "color": colors, "dash": dashes, "label": labels}


def _positive(x: list, y: list) -> tuple[list, list]:
    """Points with y > 0 (a log axis cannot show the rest)."""
    keep = [(a, b) for a, b in zip(x, y, strict=True) if b is not None and b > 0 and math.isfinite(b)]
    return [a for a, _ in keep], [b for _, b in keep]


def _thin(seq: list) -> list:
    """At most about `MAX_POINTS` of ``seq``, evenly spaced, the last always kept."""
    step = -(-len(seq) // MAX_POINTS)
    return seq if step <= 1 else seq[::step] + ([seq[-1]] if (len(seq) - 1) % step else [])


def _fmt_fracs(vals: list) -> str:
    return ", ".join("-" if v is None else f"{100 * v:.0f}%" for v in vals)


def menu_names() -> list[str]:
    """The initializer menu: the registry's names that are a spec alone (``he``, ``random``).
    Names whose first argument has no default (``constant:C``, ``sparse:SPARSITY``,
    ``critical:ACTIVATION[,SIGMA_B2]``) are typed with it: offered bare, they were an error."""
    return [n for n in initializers.names() if all(p.default is not None for p in initializers.entry_of(n).params[:1])]


class Dashboard:
    """One tab's page."""

    def __init__(self, args: dict[str, str] | None = None) -> None:
        import panel as pn
        from bokeh.models import ColumnDataSource, CustomJS, CustomJSTickFormatter

        self.pn = pn
        self.trainer: Trainer | None = None
        self.seen_version = -1
        self.update_times: list[float] = []
        self.pictures_at = 0.0
        names = menu_names()

        # ------------------------------------------------------------- controls
        self.preset = pn.widgets.Select(
            name="Lesson",
            options=[PRESET_PROMPT, *PRESETS],
            value=PRESET_PROMPT,
            css_classes=["initlab-preset"],
            sizing_mode="stretch_width",
        )
        self.preset.param.watch(lambda e: self._preset_changed(), "value")
        self.data = pn.widgets.Select(
            name="Data set",
            options=DATASETS,
            value=DEFAULTS["data"],
            css_classes=["initlab-data"],
            sizing_mode="stretch_width",
        )
        self.layers = pn.widgets.TextInput(
            name="Layers",
            value=DEFAULTS["layers"],
            placeholder="2,10,5,1",
            css_classes=["initlab-layers"],
            sizing_mode="stretch_width",
        )
        self.hidden = pn.widgets.Select(
            name="Hidden activation",
            options=list(HIDDEN),
            value=DEFAULTS["hidden"],
            css_classes=["initlab-hidden"],
            sizing_mode="stretch_width",
        )
        self.residual = pn.widgets.TextInput(
            name="Residual: layers per branch (0: plain)",
            value=DEFAULTS["residual"],
            css_classes=["initlab-residual"],
            sizing_mode="stretch_width",
        )
        self.gate = pn.widgets.Select(
            name="Gate per block",
            options=list(GATES),
            value=DEFAULTS["gate"],
            css_classes=["initlab-gate"],
            sizing_mode="stretch_width",
        )
        self.norm = pn.widgets.Select(
            name="Norm before each branch",
            options=list(NORM_FIELD),
            value=DEFAULTS["norm"],
            css_classes=["initlab-norm"],
            sizing_mode="stretch_width",
        )
        self.slots, self.sliders, self.formulas = [], [], []
        fmt = CustomJSTickFormatter(code="return Number(Math.pow(10, tick).toPrecision(2)).toString()")
        for k in range(MAX_INITS):
            slot = pn.widgets.AutocompleteInput(
                name=f"Initializer {k + 1}",
                options=names,
                restrict=False,
                min_characters=0,
                case_sensitive=False,
                placeholder="(none): a registry name, or random:0.1",
                css_classes=[f"initlab-init-{k}"],
                sizing_mode="stretch_width",
            )
            slider = pn.widgets.FloatSlider(
                name="scale",
                start=-3,
                end=2,
                step=0.05,
                value=-2,
                format=fmt,
                visible=False,
                css_classes=[f"initlab-scale-{k}"],
                sizing_mode="stretch_width",
            )
            formula = pn.pane.HTML("", css_classes=["initlab-formula"], sizing_mode="stretch_width")
            slot.param.watch(lambda e, k=k: self._slot_changed(k), "value")
            slider.param.watch(lambda e, k=k: self._scale_changed(k), "value_throttled")
            self.slots.append(slot)
            self.sliders.append(slider)
            self.formulas.append(formula)
        self.lr = pn.widgets.TextInput(
            name="Learning rate", value=DEFAULTS["lr"], css_classes=["initlab-lr"], sizing_mode="stretch_width"
        )
        self.iterations = pn.widgets.TextInput(
            name="Iterations",
            value=DEFAULTS["iterations"],
            css_classes=["initlab-iterations"],
            sizing_mode="stretch_width",
        )
        self.seed = pn.widgets.TextInput(
            name="Seed", value=DEFAULTS["seed"], css_classes=["initlab-seed"], sizing_mode="stretch_width"
        )
        self.errors = {
            f: pn.pane.HTML("", css_classes=["initlab-error", f"initlab-error-{f}"], sizing_mode="stretch_width")
            for f in ("data", "layers", "hidden", "residual", "gate", "norm", "inits", "lr", "iterations", "seed")
        }
        self.train_btn = pn.widgets.Button(name="Train", button_type="primary", css_classes=["initlab-train"])
        self.stop_btn = pn.widgets.Button(name="Stop", button_type="warning", css_classes=["initlab-stop"])
        self.reset_btn = pn.widgets.Button(name="Reset", css_classes=["initlab-reset"])
        self.download = pn.widgets.FileDownload(
            callback=self._download,
            filename="initlab-run.json",
            label="Download run (JSON)",
            button_type="light",
            css_classes=["initlab-download"],
            sizing_mode="stretch_width",
        )
        self.train_btn.on_click(lambda e: self.train())
        self.stop_btn.on_click(lambda e: self.stop())
        self.reset_btn.on_click(lambda e: self.reset())
        for w in (
            self.data,
            self.layers,
            self.hidden,
            self.residual,
            self.gate,
            self.norm,
            self.lr,
            self.iterations,
            self.seed,
        ):
            w.param.watch(lambda e: self._validate(), "value")
        self.status = pn.pane.HTML("Press Train.", css_classes=["initlab-status"], sizing_mode="stretch_width")

        # --------------------------------------------------------------- pictures
        self.src = {
            name: ColumnDataSource(_lines([], [], [], [], [])) for name in ("cost", "width", "weights", "variance")
        }
        self.cost_fig = _fig("cost", y_log=True, x_label="iteration", y_label="cost")
        self.width_fig = _fig(
            "effective width / width", x_label="iteration", y_label="distinct units / width", y_range=(0, 1.08)
        )
        self.weights_fig = _fig("unit weights, layer 1", x_label="iteration", y_label="W1[j,0] solid, W1[j,1] dashed")
        self.var_fig = _fig("variance vs mean field", y_log=True, x_label="hidden layer", y_label="mean z^2")
        for f, name in (
            (self.cost_fig, "cost"),
            (self.width_fig, "width"),
            (self.weights_fig, "weights"),
            (self.var_fig, "variance"),
        ):
            if name == "weights":  # one line per unit and input: colours say the unit, no legend
                f.multi_line(
                    xs="xs", ys="ys", line_color="color", line_dash="dash", line_width=2, source=self.src[name]
                )
                continue
            f.multi_line(
                xs="xs",
                ys="ys",
                line_color="color",
                line_dash="dash",
                line_width=2,
                source=self.src[name],
                legend_field="label",
            )
            f.legend.label_text_font_size = "8pt"
            f.legend.background_fill_alpha = 0.6
            f.legend.location = "top_right" if name == "cost" else "bottom_right"
        self.hist_src = {
            k: ColumnDataSource({"left": [], "right": [], "top": [], "color": [], "label": []}) for k in ("act", "grad")
        }
        self.act_fig = _fig("activations per hidden layer", x_label="a", y_label="share")
        self.grad_fig = _fig("weight gradients per layer", x_label="log10 |dW| (exact zeros at -12)", y_label="share")
        for f, k in ((self.act_fig, "act"), (self.grad_fig, "grad")):
            f.quad(
                left="left",
                right="right",
                top="top",
                bottom=0,
                fill_color="color",
                line_color=None,
                fill_alpha=0.45,
                source=self.hist_src[k],
                legend_field="label",
            )
            f.legend.label_text_font_size = "8pt"
        self.boundary_figs, self.boundary_src, self.points_src = [], [], []
        from bokeh.models import LinearColorMapper

        mapper = LinearColorMapper(
            palette=["#2166ac", "#4393c3", "#92c5de", "#d1e5f0", "#f7f7f7", "#fddbc7", "#f4a582", "#d6604d", "#b2182b"],
            low=0,
            high=1,
        )
        for k in range(MAX_INITS):
            f = _fig(f"boundary {k + 1}", match_aspect=False)
            f.width = f.height = 220
            src = ColumnDataSource({"image": [], "x": [], "y": [], "dw": [], "dh": []})
            pts = ColumnDataSource({"x": [], "y": [], "c": []})
            f.image(image="image", x="x", y="y", dw="dw", dh="dh", color_mapper=mapper, source=src)
            f.scatter(
                x="x", y="y", fill_color={"field": "c", "transform": mapper}, line_color="#333", size=4, source=pts
            )
            f.visible = False  # shown once a 2-D data set trains
            self.boundary_figs.append(pn.pane.Bokeh(f, visible=False))
            self.boundary_src.append(src)
            self.points_src.append(pts)
            self.boundary_figs[-1].figure = f
        self.inspect = pn.widgets.Select(
            name="Inspect (histograms, weights, variance)", options=[], css_classes=["initlab-inspect"], width=PLOT_W
        )
        self.inspect.param.watch(lambda e: self._on_document(lambda: self._redraw(force=True)), "value")
        self.results = pn.pane.HTML("", css_classes=["initlab-results"], sizing_mode="stretch_width")
        self.sentences = pn.pane.HTML("", css_classes=["initlab-sentences"], sizing_mode="stretch_width")
        self.var_fig.visible = False
        self.var_pane = pn.pane.Bokeh(self.var_fig, visible=False)
        # Flow control: each update ends by counting itself into `sent`; the page, once it has
        # applied it, copies the count into `drawn`, which comes back to the server. The next
        # update waits for that, so a page slower than the trainer (a busy machine, no GPU)
        # never queues updates, and a click on Stop, and the update that shows it, wait
        # behind none (measured: 3 s for the click to arrive and 5 s for the answer, before).
        self.sent = ColumnDataSource({"n": [0]})
        self.drawn = ColumnDataSource({"n": [0]})
        self.sent.js_on_change(
            "data", CustomJS(args={"drawn": self.drawn}, code="drawn.data = {n: Array.from(cb_obj.data.n)}")
        )
        self.drawn.on_change("data", lambda attr, old, new: self._drawn(new))
        self.sent_count = self.drawn_count = 0
        self.sent_at = 0.0
        self.cost_fig.tags = [self.sent, self.drawn]  # in the page's document, drawn nowhere

        controls = pn.Column(
            pn.pane.HTML(
                "<h2 style='margin:0'>initlab</h2><div style='font-size:0.85em;color:#555'>"
                "initialization, measured</div>"
            ),
            self.preset,
            self.data,
            self.errors["data"],
            self.layers,
            self.errors["layers"],
            self.hidden,
            self.errors["hidden"],
            self.residual,
            self.errors["residual"],
            self.gate,
            self.errors["gate"],
            self.norm,
            self.errors["norm"],
            *[w for k in range(MAX_INITS) for w in (self.slots[k], self.formulas[k], self.sliders[k])],
            self.errors["inits"],
            self.lr,
            self.errors["lr"],
            self.iterations,
            self.errors["iterations"],
            self.seed,
            self.errors["seed"],
            pn.Row(self.train_btn, self.stop_btn, self.reset_btn),
            self.download,
            width=320,
            css_classes=["initlab-controls"],
        )
        self.controls = controls
        self.units = pn.pane.HTML("", css_classes=["initlab-units"], sizing_mode="stretch_width")
        pictures = pn.FlexBox(
            pn.pane.Bokeh(self.cost_fig),
            pn.pane.Bokeh(self.width_fig),
            *self.boundary_figs,
            pn.Column(self.inspect, pn.pane.Bokeh(self.act_fig)),
            pn.pane.Bokeh(self.grad_fig),
            pn.pane.Bokeh(self.weights_fig),
            self.var_pane,
            sizing_mode="stretch_width",
        )
        main = pn.Column(
            self.status,
            self.results,
            self.sentences,
            self.units,
            pictures,
            sizing_mode="stretch_width",
            min_width=340,
            styles={"flex": "1 1 340px"},
        )
        self.layout = pn.FlexBox(controls, main, flex_wrap="wrap", sizing_mode="stretch_width", stylesheets=[CSS])
        self._apply_args(args or {})

    # --------------------------------------------------------------- the configuration
    def values(self) -> dict[str, str]:
        inits = [s.value.strip() for s in self.slots if s.value and s.value.strip()]
        return {
            "data": self.data.value,
            "layers": self.layers.value,
            "hidden": self.hidden.value,
            "inits": ",".join(inits),
            "lr": self.lr.value,
            "iterations": self.iterations.value,
            "seed": self.seed.value,
            "residual": self.residual.value,
            "gate": self.gate.value,
            "norm": self.norm.value,
        }

    def _apply_args(self, args: dict[str, str]) -> None:
        """Fill the controls from the URL's query; bad values stay visible with their message."""
        v = {**DEFAULTS, **args}
        if v["data"] in DATASETS:
            self.data.value = v["data"]
        if v["hidden"] in HIDDEN:
            name = HIDDEN.canonical(v["hidden"])  # GELU is gelu; leaky_relu:0.20 is leaky_relu:0.2
            if name not in self.hidden.options:  # a family's value (leaky_relu:0.2): shown, not lost
                self.hidden.options = [*self.hidden.options, name]
            self.hidden.value = name
        self.layers.value, self.lr.value = v["layers"], v["lr"]
        self.iterations.value, self.seed.value = v["iterations"], v["seed"]
        self.residual.value = v["residual"]
        for select, value in ((self.gate, v["gate"]), (self.norm, v["norm"])):
            if value not in select.options:  # a URL's gate 0.5 (or a bad word): shown with its message, not lost
                select.options = [*select.options, value]
            select.value = value
        specs = split_inits(v["inits"])[:MAX_INITS]
        for k, slot in enumerate(self.slots):
            slot.value = specs[k] if k < len(specs) else ""
        where: dict[str, int] = {}
        _, errors = parse_config(v, where=where)
        self._show_errors(errors, where)
        if errors:  # the page opened from an address with bad values: say so, not "Press Train."
            self.status.object = self._fix_message(errors, "The address carried values this page cannot train")

    def _init_slot(self, index: int) -> int | None:
        """The Initializer field (0-3) holding spec ``index`` of the joined inits (blank fields
        are skipped, and one field may hold several specs)."""
        seen = 0
        for k, slot in enumerate(self.slots):
            text = (slot.value or "").strip()
            n = len(split_inits(text)) if text else 0
            if index < seen + n:
                return k
            seen += n
        return None

    def _show_errors(self, errors: dict[str, str], where: dict[str, int] | None = None) -> None:
        """Each message under its own field, and that field outlined in red; the inits' message
        goes under the Initializer field it is about (the last one when it is about them all)."""
        slot = self._init_slot(where["inits"]) if where and "inits" in where and "inits" in errors else None
        for f, pane in self.errors.items():
            msg = errors.get(f, "")
            pane.object = (
                f"<div class='initlab-msg' data-field='{f}'"
                + (f" data-slot='{slot}'" if f == "inits" and slot is not None else "")
                + f" style='color:#b00020;font-size:0.85em'>{html.escape(msg)}</div>"
                if msg
                else ""
            )
        widgets = {
            "data": [self.data],
            "layers": [self.layers],
            "hidden": [self.hidden],
            "residual": [self.residual],
            "gate": [self.gate],
            "norm": [self.norm],
            "lr": [self.lr],
            "iterations": [self.iterations],
            "seed": [self.seed],
        }
        filled = [s for s in self.slots if (s.value or "").strip()] or self.slots[:1]
        widgets["inits"] = [self.slots[slot]] if slot is not None else filled
        bad = {id(w) for f in errors for w in widgets.get(f, [])}
        for w in [*self.slots, *(w for f, ws in widgets.items() if f != "inits" for w in ws)]:
            wrong = id(w) in bad
            classes = [c for c in w.css_classes if c != "initlab-bad"] + (["initlab-bad"] if wrong else [])
            if classes != list(w.css_classes):
                w.css_classes = classes
            sheets = [BAD_CSS] if wrong else []
            if list(w.stylesheets) != sheets:
                w.stylesheets = sheets
        self._place_inits_error(slot)

    def _place_inits_error(self, slot: int | None) -> None:
        """Put the inits' message right under Initializer ``slot + 1`` (after the last one when
        it is about the list as a whole: a count, or a recipe the network cannot take)."""
        pane = self.errors["inits"]
        objects = [o for o in self.controls.objects if o is not pane]
        anchor = self.sliders[slot if slot is not None else MAX_INITS - 1]
        at = next(i for i, o in enumerate(objects) if o is anchor) + 1
        objects.insert(at, pane)
        if objects != list(self.controls.objects):
            self.controls.objects = objects

    def _fix_message(self, errors: dict[str, str], head: str = "") -> str:
        """The status line for bad fields: which ones (by their labels), marked in red below."""
        fields = [f for f in self.errors if f in errors]
        names = ", ".join(LABELS.get(f, f) for f in fields)
        lead = f"{head}: fix" if head else "Fix"
        return (
            f"<span class='initlab-fix' data-fields='{','.join(fields)}'>{html.escape(lead)} the fields "
            f"marked in red ({html.escape(names)}), then press Train.</span>"
        )

    def _validate(self, errors_out: dict | None = None):
        where: dict[str, int] = {}
        cfg, errors = parse_config(self.values(), where=where)
        if self.__dict__.get("controls") is not None:
            self._show_errors(errors, where)
        if errors_out is not None:
            errors_out.update(errors)
        if cfg is not None and self.pn.state.location is not None:
            self.pn.state.location.update_query(**cfg.query())
        return cfg

    def _preset_changed(self) -> None:
        """A lesson fills every field (`PRESETS`: the rest at `DEFAULTS`) and the address."""
        name = self.preset.value
        if name not in PRESETS:
            return
        self._apply_args({**DEFAULTS, **PRESETS[name]})
        self._validate()

    def _slot_changed(self, k: int) -> None:
        spec = (self.slots[k].value or "").strip()
        slider, formula = self.sliders[k], self.formulas[k]
        try:
            entry = initializers.entry_of(spec) if spec else None
        except ValueError:
            entry = None
        slider.visible = entry is not None and entry.takes_scale
        if slider.visible:
            try:
                scale = initializers.scale_of(spec)
                slider.value = max(-3.0, min(2.0, math.log10(scale)))
            except ValueError:  # a bad scale: the field's error says so, the slider stays
                pass
        formula.object = (
            ""
            if entry is None
            else (f"<span style='color:#555;font-size:0.8em'>{html.escape(f'{entry.name}: {entry.formula}')}</span>")
        )
        self._validate()

    def _scale_changed(self, k: int) -> None:
        """The slider (log10 of the scale, two digits kept) sets the spec's scale through the
        registry, which keeps the spec's other arguments (``variance_scaling:2,fan_out``)."""
        spec = (self.slots[k].value or "").strip()
        try:
            new = initializers.with_scale(spec, float(f"{10 ** self.sliders[k].value:.2g}"))
        except InitlabError:  # a spec the field marks as bad, or one that takes no scale: kept
            return
        if new != spec:
            self.slots[k].value = new

    # ------------------------------------------------------------------- actions
    def train(self) -> None:
        errors: dict[str, str] = {}
        cfg = self._validate(errors)
        if cfg is None:
            self.status.object = self._fix_message(errors)
            return
        self.stop()
        try:  # the size caps and the count of runs training at once, checked before allocating
            trainer = Trainer(cfg)
            trainer.start()
        except InitlabError as exc:
            self.trainer = None  # the stopped run's last picture stays; the message stays above it
            self.status.object = f"<span class='initlab-state' data-state='refused'>{html.escape(str(exc))}</span>"
            return
        self.trainer = trainer
        self.seen_version = -1
        self.update_times = []
        self.pictures_at = 0.0
        self.inspect.options = list(cfg.inits)
        self.inspect.value = cfg.inits[-1]
        self.status.object = f"training {', '.join(cfg.inits)} ..."

    def stop(self) -> None:
        if self.trainer is not None and self.trainer.running:
            self.trainer.stop()

    def reset(self) -> None:
        self.stop()
        self.trainer = None

        def clear() -> None:
            for src in self.src.values():
                src.data = _lines([], [], [], [], [])
            for src in self.hist_src.values():
                src.data = {"left": [], "right": [], "top": [], "color": [], "label": []}
            for pane in self.boundary_figs:  # a Bokeh pane sets its figure's visible at once
                pane.visible = pane.figure.visible = False
            self.var_pane.visible = self.var_fig.visible = False
            self.results.object = self.sentences.object = self.units.object = ""
            self.status.object = "Press Train."

        self._on_document(clear)

    def _on_document(self, change) -> None:
        """Run ``change``, which sets Bokeh models of the page (data sources, figures), under the
        document's lock. Panel runs a click or a widget's callback as a coroutine outside the lock
        when a field's change is still pending (typed a moment before), and a Bokeh model set
        there raised in the server ("_pending_writes should be non-None ...") half-way through
        Reset; a `pn.pane.Bokeh`'s ``visible`` sets its figure's at once, so it counts too. The
        periodic callback that draws holds the lock already. Without a server, ``change`` runs
        at once."""
        self.pn.state.execute(change, schedule=True)

    def _download(self):
        data = {} if self.trainer is None else self.trainer.result()
        return io.StringIO(to_json(data, indent=1))

    # ------------------------------------------------------------------- drawing
    def tick(self) -> None:
        """The periodic callback: draw the newest snapshot, if there is one and the page has
        applied the previous update (or did not answer within `ACK_SECONDS`)."""
        import time

        if self.drawn_count < self.sent_count and time.monotonic() - self.sent_at < ACK_SECONDS:
            return
        self._redraw()

    def _drawn(self, data: dict) -> None:
        """The page applied update ``n``: draw the next snapshot now when there is one (this runs
        as a change of the document, under its lock), not at the next tick: waiting up to
        `REFRESH_MS` for it was a fifth of an update's round trip."""
        try:
            self.drawn_count = max(self.drawn_count, int(list(data.get("n", [0]))[-1]))
        except (TypeError, ValueError, IndexError):  # whatever a page sends, it is not a count
            return
        t = self.trainer
        if self.drawn_count >= self.sent_count and t is not None and t.version != self.seen_version:
            self._redraw()

    def _redraw(self, force: bool = False) -> None:
        import time

        t = self.trainer
        if t is not None and t.snapshot is None and t.error:
            self.status.object = f"<span class='initlab-state' data-state='error'>error: {html.escape(t.error)}</span>"
            return
        if t is None or t.snapshot is None or (t.version == self.seen_version and not force):
            return
        with t.lock:
            s, version = t.snapshot, t.version
        self.seen_version = version
        now = time.monotonic()
        heavy = force or s.done or s.error is not None or now - self.pictures_at >= PICTURES_EVERY
        costs, widths_seen = _thin(s.costs), _thin(s.effective_width)
        self.update_times = [x for x in self.update_times if now - x < 2.0] + [now]
        cfg = t.config
        inits = list(cfg.inits)
        colours = [COLOURS[k % len(COLOURS)] for k in range(len(inits))]
        its = [i for i, _ in costs]
        self.src["cost"].data = _lines(
            *zip(
                *[
                    (*_positive(its, [c[k] for _, c in costs]), colours[k], "solid", init)
                    for k, init in enumerate(inits)
                ],
                strict=True,
            )
        )
        dashes = ["solid", "dashed", "dotted", "dotdash", "dashdot"]
        rows = []
        for k, init in enumerate(inits):
            for l, w in enumerate(s.widths):
                rows.append(
                    (
                        [i for i, _ in widths_seen],
                        [ew[k][l] / w for _, ew in widths_seen],
                        colours[k],
                        dashes[l % len(dashes)],
                        f"{init} L{l + 1}",
                    )
                )
        self.src["width"].data = _lines(*zip(*rows, strict=True))
        self._draw_tables(s, inits, colours)
        if heavy:
            self.pictures_at = now
            self._draw_pictures(s, inits, colours)
        rate = (
            (len(self.update_times) - 1) / max(1e-9, self.update_times[-1] - self.update_times[0])
            if len(self.update_times) > 1
            else 0.0
        )
        state = ("error: " + s.error) if s.error else ("stopped" if s.stopped else "done" if s.done else "training")
        self.status.object = (
            f"<span class='initlab-state' data-state='{state.split(':')[0]}'>{html.escape(state)}"
            f"</span> &middot; iteration <span class='initlab-iteration'>{s.iteration}</span> of "
            f"{cfg.iterations} &middot; {rate:.1f} updates/s"
        )
        self.sent_count += 1
        self.sent_at = time.monotonic()
        self.sent.data = {"n": [self.sent_count]}

    def _draw_pictures(self, s, inits: list[str], colours: list[str]) -> None:
        """The heavy pictures (`PICTURES_EVERY`): the inspected init's plots, the boundaries and
        the unit tiles."""
        t = self.trainer
        k = inits.index(self.inspect.value) if self.inspect.value in inits else len(inits) - 1
        self._draw_inspected(s, k, colours[k])
        for j, pane in enumerate(self.boundary_figs):
            show = s.boundary is not None and j < len(inits)
            pane.visible = pane.figure.visible = show
            if show:
                x0, x1, y0, y1 = s.grid
                self.boundary_src[j].data = {
                    "image": [s.boundary[j]],
                    "x": [x0],
                    "y": [y0],
                    "dw": [x1 - x0],
                    "dh": [y1 - y0],
                }
                pane.figure.title.text = inits[j]
                if not len(self.points_src[j].data["x"]):  # coloured as the boundary is
                    self.points_src[j].data = {
                        "x": t.X[0].tolist(),
                        "y": t.X[1].tolist(),
                        "c": plots.class_score(t.Y).tolist(),
                    }
        if s.tiles is not None:
            self.units.object = (
                "<div class='initlab-units-row' style='display:flex;flex-wrap:wrap;gap:6px 22px'>"
                + "".join(
                    f"<div data-init='{html.escape(init)}'>{h}</div>" for init, h in zip(inits, s.tiles, strict=True)
                )
                + "</div><div style='color:#666;font-size:11px'>Hidden units: each tile is one unit's activation "
                "over the input plane (dark low, bright high, on its layer's range); identical units are boxed "
                "together (one symmetry group).</div>"
            )
        elif self.units.object:
            self.units.object = ""

    def _draw_inspected(self, s, k: int, colour: str) -> None:
        palette = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02"]

        def hist(values: list[np.ndarray], label: str) -> dict:
            """One bar per bin and layer: the layers' shares on shared bins (`plots.histograms`)."""
            out = {"left": [], "right": [], "top": [], "color": [], "label": []}
            h = plots.histograms(values, bins=HIST_BINS)
            if not sum(h.sizes):
                return out
            for l, share in enumerate(h.shares()):
                out["left"] += h.edges[:-1].tolist()
                out["right"] += h.edges[1:].tolist()
                out["top"] += share.tolist()
                out["color"] += [palette[l % len(palette)]] * len(share)
                out["label"] += [f"{label}{l + 1}"] * len(share)
            return out

        self.hist_src["act"].data = hist(s.activations[k], "layer ")
        self.hist_src["grad"].data = hist(s.gradients[k], "dW")
        weights = _thin(s.weights)
        its = [i for i, _ in weights]
        W = np.array([w[k] for _, w in weights])  # (steps, n1, n0)
        rows = []
        units = plots.unit_colours(W.shape[1])  # every unit its own colour
        for j in range(W.shape[1]):
            for i in range(min(2, W.shape[2])):
                rows.append(
                    (
                        its,
                        W[:, j, i].tolist(),
                        units[j],
                        ["solid", "dashed"][i],
                        f"w[{i}]" if j == 0 else f"unit {j + 1}" if i == 0 else "",
                    )
                )
        self.src["weights"].data = _lines(*zip(*rows, strict=True)) if rows else _lines([], [], [], [], [])
        self.var_pane.visible = self.var_fig.visible = s.variance_measured is not None
        if s.variance_measured is not None:
            layers = list(range(1, len(s.variance_measured[k]) + 1))
            rows = [
                (*_positive(layers, s.variance_measured[k]), colour, "solid", "measured now"),
                (*_positive(layers, s.variance_init[k]), "#777777", "dotted", "measured at init"),
                (*_positive(layers, s.variance_predicted[k]), "#000000", "dashed", "mean field at init"),
            ]
            self.src["variance"].data = _lines(*zip(*rows, strict=True))

    def _draw_tables(self, s, inits: list[str], colours: list[str]) -> None:
        cost = s.costs[-1][1]
        widths = s.effective_width[-1][1]
        body = []
        for k, init in enumerate(inits):
            entry = initializers.entry_of(init)
            eff = ", ".join(f"{e}/{w}" for e, w in zip(widths[k], s.widths, strict=True))
            body.append(
                f"<tr class='initlab-row' data-init='{html.escape(init)}' data-cost='{cost[k]:.10g}' "
                f"data-width='{','.join(map(str, widths[k]))}'>"
                f"<td><span class='initlab-swatch' style='background:{colours[k]}'></span>{html.escape(init)}"
                f"<br><span style='color:#777'>{html.escape(entry.formula)}</span></td>"
                f"<td>{cost[k]:.4f}</td><td>{100 * s.train_accuracy[k]:.1f}%</td>"
                f"<td>{100 * s.test_accuracy[k]:.1f}%</td><td>{eff}</td>"
                f"<td>{_fmt_fracs(s.saturated[k])}</td><td>{_fmt_fracs(s.dead[k])}</td></tr>"
            )
        self.results.object = (
            f"<style>{CSS}</style><div style='overflow-x:auto'><table class='initlab-results'>"
            "<tr><th>init</th><th>cost</th>"
            "<th>train</th><th>test</th><th>effective width</th><th>saturated</th><th>dead</th></tr>"
            + "".join(body)
            + "</table></div>"
        )
        items = "".join(
            f"<li data-init='{html.escape(init)}'><b style='color:{colours[k]}'>{html.escape(init)}"
            f"</b>: {'; '.join(html.escape(x) for x in s.sentences[k])}</li>"
            for k, init in enumerate(inits)
        )
        self.sentences.object = f"<style>{CSS}</style><ul class='initlab-sentences'>{items}</ul>"


def create_page():
    """Panel's per-session entry point: a fresh `Dashboard` per browser tab."""
    import panel as pn

    args = {k: v[0].decode("utf-8", "replace") for k, v in (pn.state.session_args or {}).items() if v}
    board = Dashboard(args)
    cb = pn.state.add_periodic_callback(board.tick, period=REFRESH_MS)
    pn.state.on_session_destroyed(lambda ctx: (cb.stop(), board.stop()))
    return board.layout
