"""Shared pytest fixtures: quiet TensorFlow, one prepared bouncing-balls dataset."""

import os

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
# As `import inrv_tf` does, before any test module imports TensorFlow.
os.environ.setdefault('TF_ENABLE_ONEDNN_OPTS', '1')
# Once a test has loaded gRPC (TF Serving's client), a forked child such as the
# ffmpeg that imageio starts could run gRPC's fork handlers and print their log
# lines into ffmpeg's stderr, which imageio parses (seen once: "Could not load meta
# information" on an mp4 the test had just written). gRPC reads these at import.
os.environ.setdefault('GRPC_ENABLE_FORK_SUPPORT', '0')
os.environ.setdefault('GRPC_VERBOSITY', 'NONE')

import pytest  # noqa: E402


@pytest.fixture(scope='session')
def tfds_dir(tmp_path_factory):
  """A TFDS data_dir holding the prepared bouncing_balls `small` dataset."""
  from absl import logging
  from inrv_tf.data import pipeline
  logging.set_verbosity(logging.WARNING)
  path = tmp_path_factory.mktemp('tfds')
  pipeline.get_builder('bouncing_balls', str(path))
  return str(path)


@pytest.fixture(scope='session')
def apps_workdir(tmp_path_factory, tfds_dir):
  """A workdir of `small` trained 300 steps on 2 bouncing-balls videos (~43 dB).

  Trained once per session (~15 s on 2 idle cores) and shared by the tests of
  rendering, inversion, the application command lines and evaluation.
  """
  from inrv_tf.train import loop
  from tests import testing
  workdir = tmp_path_factory.getbasetemp() / 'apps_small_workdir'
  config = testing.small_config(tfds_dir, data={'num_videos': 2}, train={'steps': 300})
  loop.run(config, workdir, log=lambda _: None)
  return workdir
