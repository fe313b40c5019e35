"""What every command line shares: flags from a settings dataclass, one `error:` line.

    FLAGS = flags.FLAGS

    def define_flags():
      flags.DEFINE_string('workdir', None, 'A trained workdir.')
      cli.define_settings_flags(config_lib.GenerateSettings, HELP)

    def main(argv):
      cli.no_arguments(argv)
      with cli.user_errors():
        cli.require('workdir')
        generation.generate_videos(FLAGS.workdir,
                                   cli.settings_from_flags(config_lib.GenerateSettings))

    if __name__ == '__main__':
      cli.run(main, define_flags)

A settings dataclass (inrv_tf.config) owns every default: its flags are
defined from its fields, so a command line holds no number of its own. Flags
are defined when a command runs, not when its module is imported, so two
commands' --workdir never clash in one process (the tests import several).

Every command has --verbose: without it TensorFlow's start-up lines, its C++
INFO and WARNING logs, library INFO logs and known-harmless warnings are off
(`inrv_tf.verbosity`); errors always show.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import sys
from typing import Callable

from absl import app
from absl import flags
from absl import logging

from inrv_tf import verbosity

FLAGS = flags.FLAGS
# What a user can cause: bad values, missing files, unwritable paths, a run
# that diverged. Each becomes one `error: ...` line and exit status 1.
USER_ERRORS = (ValueError, FileNotFoundError, OSError, FloatingPointError)

_DEFINE = {'int': flags.DEFINE_integer, 'float': flags.DEFINE_float,
           'bool': flags.DEFINE_bool, 'str': flags.DEFINE_string,
           'tuple': flags.DEFINE_list}


def run(main: Callable, define_flags: Callable[[], None] | None = None) -> None:
  """Defines the command's flags and --verbose, then runs `main` under absl.

  Once the flags are parsed, and before `main` runs (so before TensorFlow
  loads), sets what the process shows (`verbosity.configure`).
  """
  if define_flags is not None:
    define_flags()
  if 'verbose' not in FLAGS:
    flags.DEFINE_bool('verbose', False, 'Show TensorFlow\'s start-up and C++ log lines, '
                      'library INFO logs and known-harmless warnings (default: the '
                      'command\'s own output and errors only).')

  def configured_main(argv):
    verbosity.configure(FLAGS.verbose)
    quiet()
    try:
      return main(argv)
    finally:
      _before_exit()

  app.run(configured_main)


def _before_exit() -> None:
  """Spares the interpreter's exit a walk over every object TensorFlow made.

  A command with TensorFlow, Keras and TFDS loaded tracks some 450,000
  objects, and the interpreter's exit collects them several times: 2 to 9 s
  of silence after the last line on two busy cores (measured), to run
  finalizers nothing needs by then: every file is written and closed, and
  training has closed its iterators and summary writer. Frozen objects are
  left to the operating system; atexit handlers, flushing stdout and stderr
  and module teardown still run.
  """
  sys.stdout.flush()
  sys.stderr.flush()
  gc.freeze()


def no_arguments(argv) -> None:
  """Refuses positional arguments (a typo like `--steps 5` leaves one behind)."""
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')


def quiet() -> None:
  """Keeps library chatter (TFDS opening datasets, ...) out of the command's output,
  unless --verbose (then absl INFO logs show)."""
  logging.set_verbosity(logging.INFO if verbosity.is_verbose() else logging.WARNING)


def fail(message: str) -> None:
  """Prints `error: message` to stderr and exits with status 1."""
  print(f'error: {message}', file=sys.stderr)
  sys.exit(1)


@contextlib.contextmanager
def user_errors():
  """Turns any USER_ERRORS raised inside into `fail`; quiets logging first."""
  quiet()
  try:
    yield
  except USER_ERRORS as e:
    fail(str(e))


def require(*names: str, flag_values: flags.FlagValues = FLAGS) -> None:
  """Raises ValueError naming the first of these flags that was not given."""
  for name in names:
    if not flag_values[name].value:
      raise ValueError(f'--{name} is required.')


def define_settings_flags(cls, helps: dict[str, str],
                          flag_values: flags.FlagValues = FLAGS) -> None:
  """One flag per field of settings dataclass `cls`, named and defaulted as the field.

  Args:
    helps: field name -> help text; a field without one gets no flag.
  """
  for field in dataclasses.fields(cls):
    if field.name not in helps:
      continue
    default = field.default
    kind = _kind(field)
    if kind == 'tuple':
      default = [str(x) for x in default]
    _DEFINE[kind](field.name, default, helps[field.name], flag_values=flag_values)


def settings_from_flags(cls, flag_values: flags.FlagValues = FLAGS, **overrides):
  """The settings dataclass `cls` from the flags that define its fields (+ overrides).

  List flags become tuples of the default's element type; the dataclass then
  checks every value (ValueError naming the flag).
  """
  values = {}
  for field in dataclasses.fields(cls):
    if field.name in overrides or field.name not in flag_values:
      continue
    value = flag_values[field.name].value
    if _kind(field) == 'tuple' and value is not None:
      convert = type(field.default[0]) if field.default else str
      try:
        value = tuple(convert(x) for x in value)
      except ValueError:
        raise ValueError(f'--{field.name} must be a list of {convert.__name__} values, '
                         f'got {",".join(value)}.') from None
    values[field.name] = value
  return cls(**values, **overrides)


def _kind(field) -> str:
  """'int', 'float', 'bool', 'str' or 'tuple' from a field's annotation (a string)."""
  annotation = field.type if isinstance(field.type, str) else field.type.__name__
  kind = annotation.split('|')[0].split('[')[0].strip()
  if kind not in _DEFINE:
    raise TypeError(f'No flag type for field {field.name}: {annotation}.')
  return kind
