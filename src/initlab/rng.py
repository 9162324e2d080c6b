"""Seeds to random generators. Randomness is passed down, never global, except where the
course's own behaviour is asked for (no seed: NumPy's global `np.random`, as `np.random.randn`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from initlab.errors import InitlabError

#: What a sampler draws from: a `Generator`, or a legacy `RandomState` (the course's global).
RNG = np.random.Generator | np.random.RandomState
#: What a face accepts as `seed=`.
Seed = None | int | np.random.Generator | np.random.RandomState | np.random.SeedSequence


#: The largest seed: a signed 64-bit integer, what a store's column and every JSON reader hold.
MAX_SEED = 2**63 - 1


def resolve(seed: Seed) -> RNG:
    """One generator from a seed.

    None gives NumPy's global `RandomState` (what `np.random.seed` seeds and `np.random.randn`
    draws from), so that course code that seeds globally gets the course's numbers.
    An int or `SeedSequence` gives a fresh `numpy.random.Generator`; a generator passes through.
    """
    if seed is None:
        return np.random.mtrand._rand
    if isinstance(seed, (np.random.Generator, np.random.RandomState)):
        return seed
    if isinstance(seed, np.random.SeedSequence):
        return np.random.default_rng(seed)
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        if seed < 0 or seed > MAX_SEED:
            raise InitlabError(f"seed must be an integer from 0 to 2**63 - 1, got {seed}")
        return np.random.default_rng(int(seed))
    raise InitlabError(f"seed must be None, an integer or a numpy Generator, got {seed!r}")


def spawn(seed: Seed | Sequence[Seed], n: int) -> list[RNG]:
    """`n` independent generators: one stream per ensemble member.

    - a sequence of `n` seeds: member k draws exactly as `resolve(seed[k])` would alone;
    - an int or `SeedSequence`: `SeedSequence(seed).spawn(n)`, one child stream each;
    - a `Generator`: its `spawn(n)`;
    - None: the global `RandomState`, members drawn one after another (the course's order).
    """
    if isinstance(seed, Sequence) and not isinstance(seed, (str, bytes)):
        if len(seed) != n:
            raise InitlabError(f"got {len(seed)} seeds for an ensemble of {n} networks")
        return [resolve(s) for s in seed]
    if seed is None:
        return [resolve(None)] * n
    if isinstance(seed, np.random.RandomState):
        return [seed] * n
    if isinstance(seed, np.random.Generator):
        return list(seed.spawn(n))
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        resolve(seed)  # validates
        seed = np.random.SeedSequence(int(seed))
    if isinstance(seed, np.random.SeedSequence):
        return [np.random.default_rng(s) for s in seed.spawn(n)]
    raise InitlabError(f"seed must be None, an integer or a numpy Generator, got {seed!r}")
