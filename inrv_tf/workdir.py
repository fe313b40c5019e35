"""Loading a trained workdir for inference (rendering, inversion, export).

    config, model = load_model('/tmp/balls')

Only the model is restored (not the optimizer), from the newest checkpoint
(or a given one). This module never imports the training code.
"""

from __future__ import annotations

import pathlib

import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import trackable_object_graph_pb2

from inrv_tf import config as config_lib
from inrv_tf import files
from inrv_tf.model import inrv as model_lib

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


def _count_model_variables(path: str) -> int:
  """Variables reachable from the checkpoint's `model` object.

  Restoring matches what both sides have; this count also catches a model
  whose variables were never tracked (and so stay at their initial values).
  A variable saved under a shorter path (e.g. through the optimizer) is still
  a node under `model` in the object graph, so it counts.
  """
  graph = trackable_object_graph_pb2.TrackableObjectGraph()
  graph.ParseFromString(
      tf.train.load_checkpoint(path).get_tensor('_CHECKPOINTABLE_OBJECT_GRAPH'))
  roots = [c.node_id for c in graph.nodes[0].children if c.local_name == 'model']
  seen, stack = set(), list(roots)
  while stack:
    node = stack.pop()
    if node not in seen:
      seen.add(node)
      stack.extend(c.node_id for c in graph.nodes[node].children)
  return sum(any(a.name == 'VARIABLE_VALUE' for a in graph.nodes[n].attributes)
             for n in seen)


LEARNED_LATENTS = 'learned_latents.npy'


def _attach_learned_m(model, workdir) -> None:
  """A Video-CLIP model's m table (written at the end of training), if any."""
  path = pathlib.Path(workdir) / LEARNED_LATENTS
  if path.is_file():
    table = np.load(path)
    expected = (model.model_config.num_videos, model.model_config.latent_dim)
    if table.shape != expected:
      raise CheckpointError(f'{path} has shape {table.shape}; expected {expected}.')
    model.learned_m = table


def load_model(workdir, checkpoint: str | None = None
               ) -> tuple[config_lib.Config, model_lib.InrvModel]:
  """Rebuilds the model from `<workdir>/config.json` and restores its weights.

  Raises:
    FileNotFoundError: no config.json (not a workdir).
    CheckpointError: no checkpoint, or one whose variables do not match the config.
  """
  config = files.read_config(workdir)
  model = model_lib.build_model(config.model)
  path = checkpoint or latest_checkpoint(workdir)
  try:
    tf.train.Checkpoint(model=model).read(path).assert_existing_objects_matched(
    ).expect_partial()
  except (AssertionError, ValueError, tf.errors.OpError) as e:
    raise CheckpointError(f'Checkpoint {path} does not match the model of '
                          f'{files.config_path(workdir)}: {e}') from e
  if config.model.clip:
    _attach_learned_m(model, workdir)
  saved = _count_model_variables(path)
  if saved != len(model.trainable_variables):
    raise CheckpointError(
        f'Checkpoint {path} holds {saved} model variables; the model of '
        f'{files.config_path(workdir)} has {len(model.trainable_variables)}.')
  return config, model
