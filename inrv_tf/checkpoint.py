"""Loading a trained workdir for inference (rendering, inversion, export).

    config, model = load_model('/tmp/balls')

Only the model is restored (not the optimizer), from the newest checkpoint
(or a given one). This module never imports the training code.
"""

from __future__ import annotations

import pathlib

import tensorflow as tf

from inrv_tf import config as config_lib
from inrv_tf import io
from inrv_tf import model as model_lib

CHECKPOINT_DIR = 'checkpoints'


class CheckpointError(ValueError):
  """A workdir without a usable checkpoint, or one from another configuration."""


def latest_checkpoint(workdir) -> str:
  directory = pathlib.Path(workdir) / CHECKPOINT_DIR
  path = tf.train.latest_checkpoint(str(directory))
  if path is None:
    raise CheckpointError(f'No checkpoint in {directory}: train first with '
                          f'python -m inrv_tf.train --workdir={workdir}.')
  return path


def load_model(workdir, checkpoint: str | None = None
               ) -> tuple[config_lib.Config, model_lib.InrvModel]:
  """Rebuilds the model from `<workdir>/config.json` and restores its weights.

  Raises:
    FileNotFoundError: no config.json (not a workdir).
    CheckpointError: no checkpoint, or one whose variables do not match the config.
  """
  config = io.read_config(workdir)
  model = model_lib.build_model(config.model)
  path = checkpoint or latest_checkpoint(workdir)
  try:
    tf.train.Checkpoint(model=model).read(path).assert_existing_objects_matched(
    ).expect_partial()
  except (AssertionError, ValueError, tf.errors.OpError) as e:
    raise CheckpointError(f'Checkpoint {path} does not match the model of '
                          f'{io.config_path(workdir)}: {e}') from e
  saved = [n for n, _ in tf.train.list_variables(path) if n.startswith('model/')]
  # Restoring matches what both sides have; also require that nothing of the
  # model was left at its initial value.
  if len(saved) != len(model.trainable_variables):
    raise CheckpointError(
        f'Checkpoint {path} holds {len(saved)} model variables; the model of '
        f'{io.config_path(workdir)} has {len(model.trainable_variables)}.')
  return config, model
