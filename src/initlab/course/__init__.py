"""The course's own functions, with the course's names, signatures, return values and seeds.

- `initlab.course.planar`: "Planar data classification with one hidden layer".
- `initlab.course.deep`: "Building your deep neural network: step by step".
- `initlab.course.initialization`: "Initialization".

Each function computes what the course's code computes from the same inputs, written as the
course writes it: a backward pass reads ``A1`` from the cache where the course does, and never
recomputes it from ``Z1`` (a cache need not be a forward pass: the course's own tests build
such caches). Initializers are `initlab.initializers`'; the trainers run on `initlab.nn`. Where
the course seeds NumPy inside a function, the same numbers come from a local
``RandomState(seed)``, and NumPy's global generator is left as the caller had it. Where the
course's code fails on an input, an `InitlabError` says why.
`initlab course check my_file.py` holds a learner's functions against these.
"""

from initlab.course import deep, initialization, planar

MODULES = {"planar": planar, "deep": deep, "initialization": initialization}

__all__ = ["MODULES", "deep", "initialization", "planar"]
