"""The audit's cost and what it finds, on real architectures.

1. A BERT-base-shaped model (HF BertModel: hidden 768, 12 layers, 12 heads, vocabulary 30522; a
   batch of 2 x 128 tokens): one plain forward + backward pass against the audit (its one
   forward and one backward pass, recorded op by op, plus every statistic). Goal: at most 3x.
2. The audit-zoo (tests/audit_zoo.py): for each model, the parameters covered, the audit's time
   over one plain forward + backward pass, the findings on its published init, and the findings
   with a planted bug. Printed as the markdown table of docs/torch.md.

Both on one thread (``torch.set_num_threads(1)``: the machines these run on are shared, and the
ratio is what is compared). ``--quick`` skips BERT-base.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests import audit_zoo as zoo  # noqa: E402

from initlab.torch import audit  # noqa: E402


def _loss(out):
    if hasattr(out, "logits"):
        return out.logits
    if hasattr(out, "last_hidden_state"):
        return out.last_hidden_state
    return out


def timed(model, x, repeats: int = 3) -> tuple[float, float, object]:
    """(one plain forward + backward pass, one audit) in seconds: each the best of ``repeats``,
    the two interleaved so that a busy machine slows both alike; the last audit's report."""

    def plain():
        model.zero_grad(set_to_none=True)
        _loss(model(x)).float().sum().backward()

    plain()
    model.zero_grad(set_to_none=True)
    audit(model, x)
    t_plain, t_audit, rep = float("inf"), float("inf"), None
    for _ in range(repeats):
        t_plain = min(t_plain, _time(plain))
        model.zero_grad(set_to_none=True)
        t = time.perf_counter()
        rep = audit(model, x)
        t_audit = min(t_audit, time.perf_counter() - t)
    return t_plain, t_audit, rep


def _time(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def summary(rep) -> str:
    bad = [f for f in rep.findings if f["severity"] != "info"]
    if not bad:
        info = [f for f in rep.findings if f["severity"] == "info"]
        return "none" + (f" ({len(info)} info)" if info else "")
    kinds: dict[str, list[str]] = {}
    for f in bad:
        kinds.setdefault(f"{f['severity']} {f['kind']}", []).append(f["layer"] or "-")
    return "; ".join(f"{len(v)} {k} ({', '.join(v[:2])}{', ...' if len(v) > 2 else ''})" for k, v in kinds.items())


LINEAR = ("every linear N(0,1)", zoo.all_linear_normal)
ZEROED = ("attention zeroed", zoo.attention_zeroed)
BUGS = {
    "gpt2": [LINEAR, ZEROED],
    "bert": [LINEAR, ZEROED],
    "llama": [LINEAR, ZEROED],
    "nanogpt": [LINEAR, ZEROED],
    "resnet": [("BN biases -5", zoo.bn_bias)],
    "unet": [("every conv N(0,1)", None)],
    "lstm": [("LSTM weights constant", zoo.lstm_constant)],
    "encoder": [LINEAR, ZEROED],
    "gn_resnet": [("every conv N(0,1)", None)],
}


@torch.no_grad()
def _convs_normal(model):
    for m in model.modules():
        if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
            m.weight.normal_(0.0, 1.0)
    return model


FIRST_CALL = """
import sys, time
import torch
torch.set_num_threads(1)
sys.path.insert(0, sys.argv[1])
from tests import audit_zoo as zoo
import initlab.torch
model, x = zoo.gpt2(6, int(sys.argv[2]))
def plain():
    model.zero_grad(set_to_none=True)
    model(x).logits.float().sum().backward()
times = []
for _ in range(4):
    t = time.perf_counter(); plain(); times.append(time.perf_counter() - t)
model.zero_grad(set_to_none=True)
t = time.perf_counter(); initlab.torch.audit(model, x); first = time.perf_counter() - t
t = time.perf_counter(); initlab.torch.audit(model, x); later = time.perf_counter() - t
print(min(times[1:]), first, later)
"""


def first_call(width: int) -> None:
    """The first audit in a fresh process (what a user's script pays: `initlab.torch.audit(model,
    example)` with defaults, initlab.torch already imported) and the next, each over one plain
    forward + backward pass, on a 6-layer GPT-2 (HF, n_embd ``width``)."""
    import subprocess

    root = str(Path(__file__).resolve().parents[1])
    out = subprocess.run(
        [sys.executable, "-c", FIRST_CALL, root, str(width)], capture_output=True, text=True, check=True
    ).stdout.split()
    plain, first, later = map(float, out[-3:])
    print(
        f"6-layer GPT-2 (n_embd {width}), fresh process: one forward + backward {1000 * plain:.0f} ms; first audit "
        f"{1000 * first:.0f} ms ({first / plain:.1f}x); the next {1000 * later:.0f} ms ({later / plain:.1f}x)"
    )


def main() -> None:
    torch.set_num_threads(1)
    quick = "--quick" in sys.argv
    for width in (64, 256):
        first_call(width)
    if not quick:
        model, x = zoo.bert(12, 768, seq=128, batch=2, vocab=30522)
        n = sum(p.numel() for p in model.parameters())
        t_plain, t_audit, rep = timed(model, x)
        print(
            f"BERT-base-shaped model: {n / 1e6:.1f}M parameters, batch (2, 128) tokens, "
            f"torch {torch.__version__}, 1 thread"
        )
        print(f"  {rep.coverage_line()}")
        print(f"  one forward + backward pass: {1000 * t_plain:8.0f} ms")
        print(
            f"  initlab audit:               {1000 * t_audit:8.0f} ms  ({t_audit / t_plain:.2f}x one pass; goal <= 3x)"
        )
        print(f"  findings: {summary(rep)}")
        del model
    print()
    print("| model | parameters audited | audit / one fwd+bwd | published init: findings | planted bug | found |")
    print("|---|---|---|---|---|---|")
    rows = list(zoo.ZOO.items()) + [("gpt2 (24 layers)", lambda: zoo.gpt2(24))]
    for name, make in rows:
        model, x = make()
        t_plain, t_audit, rep = timed(model, x)
        c = rep.coverage
        cov = f"{c['audited_parameters']:,} / {c['total_parameters']:,}"
        if name == "gpt2 (24 layers)":
            bugs = [("residual scaling removed", zoo.gpt2_unscaled(24))]
        else:
            bugs = []
            for label, fn in BUGS[name]:
                m2, x2 = make()
                bugs.append((label, ((fn or _convs_normal)(m2), x2)))
        for k, (bug, bugged) in enumerate(bugs):
            found = audit(*bugged)
            head = f"| {name} | {cov} | {t_audit / t_plain:.1f}x | {summary(rep)} |" if k == 0 else "| | | | |"
            print(f"{head} {bug} | {summary(found)} |")


if __name__ == "__main__":
    main()
