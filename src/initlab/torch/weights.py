"""What a weight matrix is, from its values alone: identical rows (units that compute the same
function), its extreme singular values, and which known initializer it resembles.

Cheap by design (`initlab.torch.audit` runs these on every weight of a model): a fingerprint
screen before any exact row comparison, a few Lanczos steps for the singular values, the
distribution's shape on a fixed sample of the weights.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from initlab.diagnose.symmetry import group_rows


def _rounding_groups(
    rows: np.ndarray | None, dtype: torch.dtype, exact: list[list[int]] | None
) -> tuple[list[list[int]], float | None]:
    """Groups of units whose rows agree within 64 ulps of the largest entry (``dtype``'s ulps)
    and that the exact grouping split; and the largest difference inside them."""
    if rows is None or exact is None or not torch.is_floating_point(torch.empty(0, dtype=dtype)):
        return [], None
    atol = 64 * float(torch.finfo(dtype).eps) * float(np.nanmax(np.abs(rows), initial=0.0))
    if atol == 0.0:
        return [], None
    near = [g for g in group_rows(rows, atol) if len(g) > 1]
    exact_sets = {frozenset(g) for g in exact}
    near = [g for g in near if frozenset(g) not in exact_sets]
    if not near:
        return [], None
    diff = max(float(np.max(np.abs(rows[g] - rows[g[0]]))) for g in near)
    return near, diff


def symmetry(
    rows: torch.Tensor, *, fingerprints: bool = True
) -> tuple[int, list[list[int]], list[list[int]], float | None]:
    """How many distinct rows, the groups of identical rows (of 2 or more), groups equal up to
    rounding, and the largest difference in those; ``rows: (units, weights + bias)``.

    With ``fingerprints``, a screen first. Each row is projected on four fixed random vectors
    ``r_j`` (in float64, over at most 256 of its entries chosen with a fixed seed: rows within
    ``atol`` everywhere are within it there too). Rows within ``atol`` (64 ulps of the largest
    entry, `_rounding_groups`'s tolerance) of each other project within ``atol * ||r_j||_1`` on
    every ``r_j``. With the rows sorted by the first projection, every pair that close on it is
    at most 31 places apart (else the screen gives up): those pairs are kept if they are that close
    on the other three projections too, and compared entry by entry, all at once. When none is
    within ``atol`` every unit is distinct, and the full float64 grouping (which compares each row
    with every group) is skipped; a near pair sends the whole matrix to it."""
    n = rows.shape[0]
    if n < 2:
        return n, [], [], None
    if fingerprints and rows.is_floating_point():
        W = rows.detach()
        g = torch.Generator(device="cpu").manual_seed(0)
        cols = W.shape[1]
        pick = torch.randperm(cols, generator=g)[:256].sort().values if cols > 256 else slice(None)
        R = W[:, pick].double()
        r = torch.randn(R.shape[1], 4, generator=g, dtype=torch.float64).to(R.device)
        P = R @ r
        atol = 64 * float(torch.finfo(W.dtype).eps) * float(W.abs().max())
        l1 = r.abs().sum(0)
        slack = atol * l1 * (1 + 1e-9) + 1e-12 * float(R.abs().max()) * l1
        order = torch.argsort(P[:, 0])
        Ps = P[order]
        pairs = []
        suspicious = False
        for d in range(1, 33):  # sorted: if no pair d apart is close on r_1, none further is
            k = torch.nonzero(Ps[d:, 0] - Ps[:-d, 0] <= slack[0]).flatten()
            if len(k) == 0:
                break
            if d == 32:
                suspicious = True  # 33 rows that close on r_1: compare everything
                break
            both = ((Ps[k + d, 1:] - Ps[k, 1:]).abs() <= slack[1:]).all(1)
            k = k[both]
            pairs.append(torch.stack([order[k], order[k + d]], 1))
        if pairs and not suspicious:
            ij = torch.cat(pairs)
            if len(ij):
                diff = (W[ij[:, 0]].double() - W[ij[:, 1]].double()).abs().amax(-1)
                suspicious = bool((diff <= atol).any())
        if not suspicious:
            return n, [], [], None
    R = rows.detach().double().cpu().numpy()
    exact = group_rows(R)
    near, diff = _rounding_groups(R, rows.dtype, exact)
    return len(exact), [gr for gr in exact if len(gr) > 1], near, diff


def spectrum(M: torch.Tensor, mode: str = "fast", steps: int = 12) -> tuple[float, float]:
    """``(sv_max, sv_min)`` of ``M``.

    ``exact``: all singular values (``torch.linalg.svdvals``). ``fast``: exact when the smaller
    side is at most 128, else ``steps`` Lanczos steps (12: sv_max within 1%, sv_min within 1.5x
    on Gaussian matrices; each step reads ``M`` twice, the cost that counts) on the Gram matrix ``G = M M^T`` (the
    smaller side), with full reorthogonalization: the extreme Ritz values ``theta`` of the
    tridiagonal ``T`` give ``sv = sqrt(theta)``. The largest converges in a few steps; the
    smallest is an upper bound on the true ``sv_min`` (exact for an orthogonal matrix, where
    ``G = c I`` stops the recursion at once, and 0 for a matrix with a large null space).
    ``off``: NaN, NaN."""
    if mode == "off":
        return float("nan"), float("nan")
    M = M.detach().float()
    if M.shape[0] > M.shape[1]:
        M = M.T
    n = M.shape[0]
    if mode == "exact" or n <= 128:
        sv = torch.linalg.svdvals(M).double()
        return float(sv[0]), float(sv[-1])
    g = torch.Generator(device="cpu").manual_seed(0)
    v = torch.randn(n, generator=g, dtype=torch.float64).to(M.device, M.dtype)
    v = v / v.norm()
    V = [v]
    alphas, betas = [], []
    for _ in range(min(steps, n)):
        w = M @ (M.T @ V[-1])
        a = float(w @ V[-1])
        alphas.append(a)
        B = torch.stack(V, 1)
        w = w - B @ (B.T @ w)
        w = w - B @ (B.T @ w)  # twice is enough (Giraud et al. 2005)
        b = float(w.norm())
        if b <= 1e-6 * max(abs(a), 1e-30):
            break
        betas.append(b)
        V.append(w / b)
    k = len(alphas)
    T = np.diag(alphas) + np.diag(betas[: k - 1], 1) + np.diag(betas[: k - 1], -1)
    theta = np.linalg.eigvalsh(T)
    return float(np.sqrt(max(theta[-1], 0.0))), float(np.sqrt(max(theta[0], 0.0)))


def _round_std(std: float) -> float | None:
    """A std written with one significant digit in the usual conventions (0.02, 0.01, 0.002,
    0.05, 1, ...), when ``std`` is within 2% of one."""
    if std <= 0:
        return None
    p = 10 ** math.floor(math.log10(std))
    for d in (1, 2, 5):
        for q in (p, 10 * p):
            if abs(std / (d * q) - 1) < 0.02:
                return d * q
    return None


def looks_like(
    W,
    fan_in: int,
    fan_out: int,
    sv: np.ndarray | tuple | None = None,
    *,
    n_residual: int | None = None,
    base_std: float | None = None,
    embedding: bool = False,
    prefer: tuple[str, ...] = (),
) -> tuple[str, str]:
    """Which known initializer ``W`` resembles, and the evidence.

    The distribution's shape from its kurtosis ``E[(w - mean)^4] / std^4`` (1.8 uniform, about
    2.36 truncated normal, 3 normal), on at most 2^18 weights drawn with a fixed seed; then its
    std against, in order: PyTorch's default ``U(+-1/sqrt(fan_in))`` (std ``1/sqrt(3 fan_in)``);
    ``std = sqrt(scale / fan)`` with ``scale`` 1 (LeCun, Glorot) or 2 (He) and ``fan`` one of
    fan_in, (fan_in + fan_out)/2, fan_out (ResNet's ``kaiming_normal_(mode='fan_out')`` is
    ``variance_scaling:2,fan_out,normal``: one rule, one label); a fixed std written with one
    digit, ``random:0.02`` (GPT-2/BERT/Llama's ``initializer_range``; timm's
    ``trunc_normal_(std=.02)`` too, whose cut at +-2 is 100 std away); GPT-2's residual
    projections ``base_std / sqrt(n_residual)`` (``n_residual = 2 n_layer`` residual branches).
    An embedding is judged by its std alone (PyTorch's default there is N(0, 1)). Also zeros,
    constant, orthogonal (all singular values equal). ``sv``: ``(sv_max, ..., sv_min)`` when
    already computed. When several rules fit (a 3x3 conv with as many inputs as outputs has
    fan_in = fan_out), the first of ``prefer`` that fits is named (the audit passes the model's
    most common labels), else the closest; the others are in the evidence."""
    t = W if torch.is_tensor(W) else torch.from_numpy(np.ascontiguousarray(W))
    t = t.detach()
    flat = t.reshape(-1)
    lo, hi = torch.aminmax(flat)
    if float(lo) == float(hi):
        v = float(lo)
        return ("zeros" if v == 0 else f"constant:{v:g}"), "every weight equal"
    M = t.reshape(t.shape[0], -1)
    if sv is None:
        sv = spectrum(M, "exact" if M.numel() <= 1 << 16 else "fast")
    sv_max, sv_min = float(sv[0]), float(sv[-1])
    if sv_min > 0 and sv_max / sv_min < 1.001 and min(M.shape) > 1:
        return "orthogonal", f"all singular values equal ({sv_max:.4g}): an orthogonal matrix times {sv_max:.3g}"
    if flat.numel() > 1 << 18:
        g = torch.Generator(device="cpu").manual_seed(0)
        flat = flat[torch.randint(0, flat.numel(), (1 << 18,), generator=g)]
    w = flat.double()
    std = float(w.std(unbiased=False))
    kurt = float(((w - w.mean()) ** 4).mean() / std**4)
    family = "uniform" if kurt < 2.1 else "truncated_normal" if kurt < 2.7 else "normal"
    tol = max(0.05, 4 / np.sqrt(2 * w.numel()))  # a sample std's relative error is about 1/sqrt(2n)
    evidence = (
        f"{family.replace('_', ' ')} (kurtosis {kurt:.2f}), std {std:.4g}, "
        f"std*sqrt(fan_in) = {std * np.sqrt(fan_in):.3g}"
    )

    def near(target: float) -> bool:
        return abs(std / target - 1) < tol

    if embedding:
        if family == "normal" and near(1.0):
            return "pytorch_default", evidence + ": N(0, 1), nn.Embedding's default"
    else:
        avg = (fan_in + fan_out) / 2
        short = {"uniform": "uniform", "normal": "normal", "truncated_normal": "truncated_normal"}[family]
        table = [("pytorch_default", 1 / 3, fan_in)] if family == "uniform" else []
        table += [
            (f"lecun_{short}", 1, fan_in),
            (f"he_{short}", 2, fan_in),
            (f"glorot_{short}", 1, avg),
            (f"variance_scaling:1,fan_out,{family}", 1, fan_out),
            (f"variance_scaling:2,fan_out,{family}", 2, fan_out),
        ]
        fits = sorted(
            ((abs(std / np.sqrt(scale / n) - 1), name, n) for name, scale, n in table if near(np.sqrt(scale / n))),
            key=lambda f: (f[1] not in prefer, prefer.index(f[1]) if f[1] in prefer else 0, f[0]),
        )
        fits = [(name, n) for _, name, n in fits]
        if fits:
            name, n = fits[0]
            also = [f for f, _ in fits[1:] if f != name]
            more = f"; also {', '.join(also)} (within the sample's error)" if also else ""
            if "fan_out" in name:
                more += f"; kaiming_{family.split('_')[-1]}_(mode='fan_out'), ResNet's, fan_out = {fan_out}"
            return name, evidence + more
    if family != "uniform":
        if base_std and n_residual and n_residual > 1 and near(base_std / np.sqrt(n_residual)):
            half = n_residual // 2
            rule = f"2*{half}" if 2 * half == n_residual else f"{n_residual}"
            return (
                f"random:{base_std:g}/sqrt({rule})",
                evidence + f": GPT-2's residual projection, initializer_range / sqrt(2 n_layer) "
                f"= {base_std / np.sqrt(n_residual):.3g}",
            )
        r = _round_std(std)
        if r is not None:
            label = "random" if family == "normal" else "trunc_normal"
            note = ""
            if r == 0.02:
                note = (
                    ": GPT-2/BERT/Llama's initializer_range (timm's trunc_normal_(std=.02) is the same, "
                    "its cut at +-2 being 100 std away)"
                )
            return f"{label}:{r:g}", evidence + note
        return f"random:{std:.3g}", evidence
    return f"uniform(+-{float(flat.abs().max()):.3g})", evidence
