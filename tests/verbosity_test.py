"""Quiet by default: TensorFlow's harmless start-up lines go, everything else stays."""

import logging
import os

from inrv_tf import verbosity

BANNER = [
    b'WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n',
    b'I0000 00:00:1796186026.034893   24842 port.cc:153] oneDNN custom operations are on. '
    b'You may see slightly different numerical results.\n',
    b'I0000 00:00:1796186026.035390   24842 cudart_stub.cc:31] Could not find cuda drivers on '
    b'your machine, GPU will not be used.\n',
]
CUINIT = (b'E0000 00:00:1796186033.717185   24842 cuda_platform.cc:52] failed call to cuInit: '
          b'INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)\n')
REAL = b'E0000 00:00:1796186033.7 24842 some_kernel.cc:12] Something really failed\n'


def _filtered(lines, capfd) -> str:
  capfd.readouterr()
  with verbosity.filtered_stderr(verbosity.startup_patterns()):
    for line in lines:
      os.write(2, line)
  return capfd.readouterr().err


def test_the_start_up_banner_goes_and_real_errors_stay(capfd, monkeypatch):
  monkeypatch.setattr(verbosity, 'has_nvidia_device', lambda: False)
  assert _filtered(BANNER + [CUINIT, REAL] + BANNER, capfd) == REAL.decode()


def test_cuinit_is_a_real_error_where_there_is_an_nvidia_device(capfd, monkeypatch):
  monkeypatch.setattr(verbosity, 'has_nvidia_device', lambda: True)
  assert _filtered(BANNER + [CUINIT], capfd) == CUINIT.decode()


def test_harmless_warnings_are_dropped_unless_verbose(monkeypatch):
  record = lambda message, level=logging.WARNING: logging.LogRecord(
      'absl', level, __file__, 1, message, None, None)
  harmless = verbosity._HarmlessFilter()        # pylint: disable=protected-access
  monkeypatch.setitem(verbosity._state, 'verbose', False)   # pylint: disable=protected-access
  assert not harmless.filter(record('`FeatureConnector.dtype` is deprecated. Please change '
                                    'your code to use NumPy with the field ...'))
  assert not harmless.filter(record('From x.py:660: calling map_fn_v2 (from tensorflow) with '
                                    'dtype is deprecated and will be removed in a future version.'))
  assert harmless.filter(record('Dataset bouncing_balls is missing; building it.'))
  assert harmless.filter(record('x is deprecated and will be removed', logging.ERROR))
  monkeypatch.setitem(verbosity._state, 'verbose', True)    # pylint: disable=protected-access
  assert harmless.filter(record('`TensorInfo.dtype` is deprecated. Please change your code'))
