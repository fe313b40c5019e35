"""Runs one pytest file as a Bazel py_test (tests/BUILD, datasets/BUILD).

    py_test(name = "grid_test", srcs = ["grid_test.py", "pytest_runner.py"],
            main = "pytest_runner.py", args = ["$(rootpath grid_test.py)"], ...)

The tests are pytest-style (fixtures from conftest.py), so each target runs pytest on
its one file, from the runfiles, with setup.cfg's settings. Under `bazel test` the
temporary files go to the test's own $TEST_TMPDIR and the results to $XML_OUTPUT_FILE.
"""

import os
import sys


def pytest_args(files: list[str]) -> list[str]:
  args = [*files, '-q']
  tmp = os.environ.get('TEST_TMPDIR')
  if tmp:
    args.append(f'--basetemp={tmp}/pytest')
  xml = os.environ.get('XML_OUTPUT_FILE')
  if xml:
    args.append(f'--junitxml={xml}')
  return args


def main(files: list[str]) -> int:
  # Python put this file's real folder (the source tree's tests/, through the runfiles
  # link) first on sys.path: drop it, so that imports come from the declared deps only.
  if sys.path and sys.path[0] == os.path.dirname(os.path.realpath(__file__)):
    del sys.path[0]
  if 'TEST_TMPDIR' in os.environ:
    # Bazel's test environment has no HOME; Keras and TFDS keep their files under it.
    os.environ.setdefault('HOME', os.environ['TEST_TMPDIR'])
  import pytest  # pylint: disable=g-import-not-at-top
  return pytest.main(pytest_args(files))


if __name__ == '__main__':
  sys.exit(main(sys.argv[1:]))
