"""What a command shows: by default its own lines and real errors, not TensorFlow's start-up.

    verbosity.configure(verbose=False)   # cli.run does this once the flags are parsed

Quiet (the default):
- TensorFlow's C++ INFO and WARNING lines are off: `import inrv_tf` sets
  TF_CPP_MIN_LOG_LEVEL=2 unless the user set it (errors still show).
- Some lines come before TensorFlow reads that variable, so no level hides
  them: as each of its two libraries loads it prints absl's "All log messages
  before absl::InitializeLog()..." warning, the oneDNN and the "Could not find
  cuda drivers" lines, and on a machine without an NVIDIA driver CUDA logs
  "failed call to cuInit" at ERROR when the devices are first listed.
  TF_CPP_MIN_LOG_LEVEL=3 hides the last one, but TensorFlow reads the level
  once, so it would hide every later error too; CUDA_VISIBLE_DEVICES="" does
  not stop the cuInit line (and would hide a GPU). So the first `import
  tensorflow` and its device listing run with file descriptor 2 sent to a
  temporary file; afterwards every line of it but the known-harmless ones
  (HARMLESS_STARTUP) goes to stderr, in order. The cuInit line counts as
  harmless only where the machine has no NVIDIA device: with one, it is real.
- Known-harmless Python warnings (HARMLESS_WARNINGS: TFDS's and TensorFlow's
  deprecation notices about their own internals) are dropped.

--verbose, or a TF_CPP_MIN_LOG_LEVEL=0 of the user's, shows all of it. Logs
that are not a terminal get no carriage-return bars either way (TFDS's
progress bars are turned off there).
"""

from __future__ import annotations

import contextlib
import glob
import importlib.abc
import importlib.util
import logging
import os
import re
import sys
import tempfile

import inrv_tf

# Start-up lines of `import tensorflow` + device listing that say nothing is wrong.
HARMLESS_STARTUP = (
    r'^WARNING: All log messages before absl::InitializeLog\(\) is called are written to '
    r'STDERR$',
    r'\] oneDNN custom operations are on\.',
    r'cudart_stub\.cc:\d+\] Could not find cuda drivers on your machine',
    r'cpu_feature_guard\.cc:\d+\] This TensorFlow binary is optimized',
    r'^To enable the following instructions: .* rebuild TensorFlow',
)
# Logged where no NVIDIA driver is installed; on a machine with an NVIDIA device it is real.
NO_GPU_CUINIT = r'cuda_platform\.cc:\d+\] failed call to cuInit'
# Python log records about the libraries' own use of deprecated APIs.
HARMLESS_WARNINGS = (
    r'^`\w+\.dtype` is deprecated\. Please change your code to use NumPy',   # TFDS
    r'is deprecated and will be removed',                                    # TensorFlow
    r'^Variant folder .* has no dataset_info\.json$',                         # TFDS first build
    r'^Using custom data configuration: ',                                   # TFDS, --videos
)

_state = {'verbose': False, 'configured': False}


def is_verbose() -> bool:
  return _state['verbose']


def has_nvidia_device() -> bool:
  """Whether this machine shows an NVIDIA GPU to processes (driver loaded)."""
  return os.path.exists('/proc/driver/nvidia/version') or bool(glob.glob('/dev/nvidia[0-9]*'))


def startup_patterns() -> list[re.Pattern]:
  """HARMLESS_STARTUP, plus the cuInit error where there is no NVIDIA device."""
  patterns = list(HARMLESS_STARTUP)
  if not has_nvidia_device():
    patterns.append(NO_GPU_CUINIT)
  return [re.compile(p) for p in patterns]


def configure(verbose: bool = False) -> None:
  """Sets what this process shows (see the module docstring). Call before TensorFlow loads.

  Raises:
    Nothing; if TensorFlow is already imported only the Python-side settings change.
  """
  _state.update(verbose=bool(verbose), configured=True)
  user_level = inrv_tf.USER_TF_CPP_MIN_LOG_LEVEL
  if 'tensorflow' not in sys.modules:
    if verbose and user_level is None:
      os.environ.pop('TF_CPP_MIN_LOG_LEVEL', None)     # TensorFlow's own default: everything.
    if not verbose and user_level != '0':
      _install_import_hook('tensorflow', _quiet_tensorflow_import)
  if not sys.stdout.isatty():
    _install_import_hook('tensorflow_datasets', _no_progress_bars)
  if not verbose:
    _add_warning_filter()


# Quiet start-up --------------------------------------------------------------------
@contextlib.contextmanager
def filtered_stderr(patterns):
  """Sends fd 2 to a temporary file; then writes its lines matching none of `patterns`."""
  sys.stderr.flush()
  saved = os.dup(2)
  with tempfile.TemporaryFile() as capture:
    os.dup2(capture.fileno(), 2)
    try:
      yield
    finally:
      sys.stderr.flush()
      os.dup2(saved, 2)
      os.close(saved)
      capture.seek(0)
      lines = capture.read().decode(errors='replace').splitlines(keepends=True)
      kept = [line for line in lines if not any(p.search(line) for p in patterns)]
      if kept:
        os.write(2, ''.join(kept).encode())


def _quiet_tensorflow_import(load: callable, module) -> None:
  with filtered_stderr(startup_patterns()):
    load(module)
    module.config.list_physical_devices()   # CUDA's platform starts here (cuInit).


def _no_progress_bars(load: callable, module) -> None:
  load(module)
  module.disable_progress_bar()


class _Loader(importlib.abc.Loader):
  """The real loader of one module, its exec_module wrapped by `around(load, module)`."""

  def __init__(self, loader, around):
    self._loader, self._around = loader, around

  def create_module(self, spec):
    return self._loader.create_module(spec)

  def exec_module(self, module) -> None:
    self._around(self._loader.exec_module, module)

  def __getattr__(self, name):
    return getattr(self._loader, name)


class _ImportHook(importlib.abc.MetaPathFinder):
  """Wraps the first import of top-level module `name`, then leaves sys.meta_path."""

  def __init__(self, name: str, around):
    self.name, self.around = name, around

  def find_spec(self, fullname, path, target=None):
    if fullname != self.name:
      return None
    sys.meta_path.remove(self)
    spec = importlib.util.find_spec(fullname)
    if spec is not None and spec.loader is not None:
      spec.loader = _Loader(spec.loader, self.around)
    return spec


def _install_import_hook(name: str, around) -> None:
  if name in sys.modules or any(isinstance(h, _ImportHook) and h.name == name
                                for h in sys.meta_path):
    return
  sys.meta_path.insert(0, _ImportHook(name, around))


# Python warnings -----------------------------------------------------------------
class _HarmlessFilter(logging.Filter):
  """Drops log records whose message matches HARMLESS_WARNINGS (unless --verbose)."""

  patterns = [re.compile(p) for p in HARMLESS_WARNINGS]

  def filter(self, record: logging.LogRecord) -> bool:
    if _state['verbose'] or record.levelno >= logging.ERROR:
      return True
    try:
      message = record.getMessage()
    except (TypeError, ValueError):
      return True
    return not any(p.search(message) for p in self.patterns)


def _add_warning_filter() -> None:
  """Filters every handler of the root logger (absl's among them) and the ones added later."""
  from absl import logging as absl_logging
  handlers = [absl_logging.get_absl_handler(), *logging.getLogger().handlers]
  for handler in handlers:
    if not any(isinstance(f, _HarmlessFilter) for f in handler.filters):
      handler.addFilter(_HarmlessFilter())
