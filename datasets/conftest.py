"""Lets the dataset tests import each folder as a top-level package.

`datasets/` has no `__init__.py` (the `tfds` command line puts it on sys.path and
imports `<name>.<name>_dataset_builder`), so the tests do the same:
`from bouncing_balls import bouncing_balls_dataset_builder`. pytest's default
import mode already puts this folder on sys.path; this makes it hold under
`--import-mode=importlib` too.
"""

import pathlib
import sys

_HERE = str(pathlib.Path(__file__).resolve().parent)
if _HERE not in sys.path:
  sys.path.insert(0, _HERE)
