"""Unit tiles: every hidden unit's activation over the input plane, as a small heatmap.

For 2-D data, unit ``j`` of hidden layer ``l`` computes a function of the input point; drawn on
the grid of the decision boundary (`initlab.report.plots.decision_surface`) it is a tile. The
course's lesson is then a picture: under ``zeros`` or ``constant:C`` every tile of a layer is
the same picture (the units are one function, copied), under a random init they differ, and
as training goes they move apart. The symmetry groups (`initlab.symmetry`, the one rule for
"the same function") are drawn as boxes around identical units.

What a tile shows is what the next layer reads: ``A[l] = g(P[l])``, where ``P[l] =
cache[l-1][1]`` is the pre-activation of layer ``l`` (``N(S)``, the activated stream, at a
residual network's stream layers), which is ``cache[l][0]`` of `Network.forward`, the same
for a plain and a residual network. No math here beyond colouring: the values are the
network's own forward pass.

One HTML builder (`tiles_html`) serves the dashboard, the compare report and notebooks
(``UnitTiles._repr_html_``): tiles as PNG data (no external URL), laid out with CSS flex so
they wrap at 375 px instead of shrinking.
"""

from __future__ import annotations

import base64
import html as _html
import io
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from initlab.errors import InitlabError

#: Grid points on the longer side of a tile (the boundary's grid rule, coarser: a tile is small).
TILE_STEPS = 28
#: CSS pixels a tile is drawn at.
TILE_PX = 40
#: The colour scale: low values dark, high bright (perceptually uniform, colour-blind safe).
COLORMAP = "viridis"


@dataclass(frozen=True)
class LayerTiles:
    """One hidden layer's tiles: ``values: (n, rows, cols)`` (``(E, n, rows, cols)`` for an
    ensemble), ``values[..., j, i, c]`` unit ``j``'s activation at ``(x[c], y[i])``;
    ``groups`` the symmetry groups (lists of unit indices; E such lists for an ensemble) and
    ``effective_width`` their count."""

    layer: int
    width: int
    activation: str
    values: np.ndarray
    groups: list
    effective_width: int | np.ndarray

    def sentence(self) -> str:
        """'layer 1 (relu): 1 of 10 distinct' (one network)."""
        return f"layer {self.layer} ({self.activation}): {self.effective_width} of {self.width} distinct"


@dataclass(frozen=True)
class UnitTiles:
    """Every hidden layer's tiles over one grid ``x: (cols,)``, ``y: (rows,)``; ``ensemble`` is
    E for an ensemble's (each layer's fields then lead with ``(E,)``; `member` picks one)."""

    x: np.ndarray
    y: np.ndarray
    layers: list[LayerTiles]
    ensemble: int | None = None

    @property
    def extent(self) -> tuple[float, float, float, float]:
        return float(self.x[0]), float(self.x[-1]), float(self.y[0]), float(self.y[-1])

    def member(self, k: int) -> UnitTiles:
        """Network ``k``'s tiles (what `unit_tiles` gives for ``net.member(k)``)."""
        from initlab.diagnose.members import check_member

        k = check_member(self.ensemble, k)
        return UnitTiles(
            self.x,
            self.y,
            [
                LayerTiles(t.layer, t.width, t.activation, t.values[k], t.groups[k], int(t.effective_width[k]))
                for t in self.layers
            ],
        )

    def identical(self, layer: int) -> bool:
        """Whether every tile of hidden layer ``layer`` (from 1) is bit for bit the same (one network)."""
        v = self.layers[layer - 1].values
        return bool(np.all(v == v[:1]))

    def to_dict(self) -> dict:
        from initlab.diagnose.members import plain

        return {
            "x": self.x.tolist(),
            "y": self.y.tolist(),
            "ensemble": self.ensemble,
            "layers": [
                {
                    "layer": t.layer,
                    "width": t.width,
                    "activation": t.activation,
                    "groups": t.groups,
                    "effective_width": plain(t.effective_width),
                    "values": t.values.tolist(),
                }
                for t in self.layers
            ],
        }

    def __repr__(self) -> str:
        if self.ensemble is not None:
            return f"UnitTiles({self.ensemble} networks, {len(self.layers)} hidden layers)"
        return "UnitTiles(" + "; ".join(t.sentence() for t in self.layers) + ")"

    def _repr_html_(self) -> str:
        if self.ensemble is not None:
            return "".join(tiles_html(self.member(k), title=f"network {k + 1}") for k in range(self.ensemble))
        return tiles_html(self)


def unit_tiles(
    net,
    X: np.ndarray,
    *,
    steps: int = TILE_STEPS,
    pad: float = 0.5,
    batch: int | None = None,
    between: Callable[[], None] = lambda: None,
    sym=None,
) -> UnitTiles:
    """Each hidden unit's activation over the plane of the 2-D data ``X: (2, m)`` (the data's
    box plus ``pad``, at most ``steps`` points a side: `plots.decision_surface`'s grid), for a
    `Network` plain or residual, one or an ensemble; groups from ``sym`` (default
    ``symmetry(net)``). ``batch`` and ``between`` as in `decision_surface` (the dashboard's Stop)."""
    from initlab.diagnose.symmetry import symmetry
    from initlab.report.plots import decision_surface

    dims = list(net.layer_dims)
    if dims[0] != 2:
        raise InitlabError(f"unit tiles draw units over a plane: the network has {dims[0]} inputs, not 2")
    L = len(dims) - 1
    if L < 2:
        raise InitlabError(f"unit tiles need a hidden layer; layers {dims} have none")

    def hidden(P: np.ndarray) -> np.ndarray:
        _, cache = net.forward(P)
        # cache[l][0] = A[l] = g(P[l]) with P[l] = cache[l-1][1]: what layer l+1 reads
        return np.concatenate([cache[l][0] for l in range(1, L)], axis=-2)

    s = decision_surface(hidden, X, pad=pad, steps=steps, batch=batch, between=between)
    rep = symmetry(net) if sym is None else sym
    out, start = [], 0
    for l in range(1, L):
        n = dims[l]
        ls = rep.layers[l - 1]
        act = net.activations[l - 1].name
        out.append(LayerTiles(l, n, act, s.values[..., start : start + n, :, :], ls.groups, ls.effective_width))
        start += n
    return UnitTiles(s.x, s.y, out, getattr(net, "ensemble", None))


# ------------------------------------------------------------------------------ drawing
_LUT: list[np.ndarray] = []


def _lut() -> np.ndarray:
    """The colormap as 256 RGB bytes (matplotlib's, computed once; pyplot is not imported)."""
    if not _LUT:
        import matplotlib

        _LUT.append((matplotlib.colormaps[COLORMAP](np.linspace(0, 1, 256))[:, :3] * 255).round().astype(np.uint8))
    return _LUT[0]


def layer_range(values: np.ndarray) -> tuple[float, float]:
    """A layer's colour range: its finite values' min and max (one network's layer)."""
    v = values[np.isfinite(values)]
    return (float(v.min()), float(v.max())) if v.size else (0.0, 1.0)


def tile_png(values: np.ndarray, lo: float, hi: float) -> bytes:
    """One tile ``(rows, cols)`` as PNG bytes: ``lo`` darkest, ``hi`` brightest (a flat layer,
    ``hi - lo`` under 1e-12 of its size, in the middle colour), row 0 of the grid at the bottom.
    Equal values give equal bytes."""
    from PIL import Image

    span = hi - lo
    if not span > 1e-12 * max(1.0, abs(hi), abs(lo)):
        idx = np.full(values.shape, 128, dtype=np.uint8)
    else:
        idx = np.clip(np.nan_to_num((values - lo) / span * 255, nan=0.0), 0, 255).round().astype(np.uint8)
    rgb = _lut()[idx[::-1]]  # the grid's y grows upwards; an image's rows downwards
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb), "RGB").save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


TILES_CSS = """
.initlab-tiles { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; font-size: 12px; color: #222; }
.initlab-tiles .tl-title { font-weight: 600; margin: 2px 0; }
.initlab-tiles .tl-layer { margin: 2px 0 6px 0; }
.initlab-tiles .tl-head { color: #444; margin-bottom: 2px; }
.initlab-tiles .tl-row { display: flex; flex-wrap: wrap; gap: 3px; align-items: flex-start; }
.initlab-tiles .tl-group { display: flex; flex-wrap: wrap; gap: 2px; padding: 1px; border: 2px solid transparent;
  border-radius: 3px; }
.initlab-tiles .tl-group.tl-shared { border-color: #D55E00; background: #fff3ea; }
.initlab-tiles img { width: TILE_PXpx; height: TILE_PXpx; display: block; border: 1px solid #ccc; }
.initlab-tiles .tl-note { color: #666; font-size: 11px; }
""".replace("TILE_PX", str(TILE_PX))


def tiles_html(
    tiles: UnitTiles, *, title: str = "", colour: str | None = None, note: bool = True, px: int = TILE_PX
) -> str:
    """One network's tiles as an HTML fragment (its own ``<style>``): per hidden layer a line
    'layer 1 (relu): 1 of 10 distinct, a from 0 to 1.3' and the tiles, units of one symmetry
    group side by side in one box (outlined when the group holds more than one unit)."""
    if tiles.ensemble is not None:
        raise InitlabError("tiles_html draws one network: give tiles.member(k)")
    esc = _html.escape
    css = TILES_CSS if px == TILE_PX else TILES_CSS.replace(f"{TILE_PX}px", f"{int(px)}px")
    parts = [f"<style>{css}</style><div class='initlab-tiles' data-title='{esc(title)}'>"]
    if title:
        style = f" style='color:{esc(colour)}'" if colour else ""
        parts.append(f"<div class='tl-title'{style}>{esc(title)}</div>")
    for t in tiles.layers:
        lo, hi = layer_range(t.values)
        groups = sorted(t.groups, key=lambda g: g[0])
        parts.append(
            f"<div class='tl-layer' data-layer='{t.layer}' data-width='{t.width}' "
            f"data-distinct='{t.effective_width}' data-groups='{esc(str([list(map(int, g)) for g in groups]))}'>"
            f"<div class='tl-head'>{esc(t.sentence())} &middot; a from {lo:.3g} to {hi:.3g}</div>"
            "<div class='tl-row'>"
        )
        for g in groups:
            shared = " tl-shared" if len(g) > 1 else ""
            label = f"units {', '.join(str(j + 1) for j in g)}" if len(g) > 1 else f"unit {g[0] + 1}"
            parts.append(f"<div class='tl-group{shared}' data-units='{','.join(map(str, g))}' title='{label}'>")
            for j in g:
                data = base64.b64encode(tile_png(t.values[j], lo, hi)).decode("ascii")
                parts.append(
                    f"<img class='initlab-tile' data-unit='{j}' alt='layer {t.layer} unit {j + 1}' "
                    f"title='layer {t.layer}, unit {j + 1}' src='data:image/png;base64,{data}'>"
                )
            parts.append("</div>")
        parts.append("</div></div>")
    if note:
        x0, x1, y0, y1 = tiles.extent
        parts.append(
            f"<div class='tl-note'>Each tile: one unit's activation over the input plane "
            f"(x1 {x0:.2g} to {x1:.2g} left to right, x2 {y0:.2g} to {y1:.2g} bottom to top), "
            f"dark low, bright high, on its layer's range. Boxed: identical units (one symmetry group).</div>"
        )
    parts.append("</div>")
    return "".join(parts)
