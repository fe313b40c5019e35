"""Shared pytest fixtures: quiet TensorFlow, one prepared bouncing-balls dataset."""

import os

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import pytest  # noqa: E402


@pytest.fixture(scope='session')
def tfds_dir(tmp_path_factory):
  """A TFDS data_dir holding the prepared bouncing_balls `small` dataset."""
  from absl import logging
  from inrv_tf import data
  logging.set_verbosity(logging.WARNING)
  path = tmp_path_factory.mktemp('tfds')
  data.get_builder('bouncing_balls', str(path))
  return str(path)
