"""The course's own functions, with the course's names, signatures, return values and seeds.

- `initlab.course.planar`: "Planar data classification with one hidden layer".
- `initlab.course.deep`: "Building your deep neural network: step by step".
- `initlab.course.initialization`: "Initialization".

A face: each function is a few lines over `initlab.nn` and `initlab.initializers`. Where the
course seeds NumPy inside a function, the same numbers come from a local
``RandomState(seed)``, and NumPy's global generator is left as the caller had it.
`initlab course check my_file.py` holds a learner's functions against these.
"""

from initlab.course import deep, initialization, planar

MODULES = {"planar": planar, "deep": deep, "initialization": initialization}

__all__ = ["MODULES", "deep", "initialization", "planar"]
