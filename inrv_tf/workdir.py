"""A workdir: one training run on disk, and the one place that knows its layout.

    workdir = Workdir('/tmp/balls')
    config, model = workdir.load_model()         # the newest checkpoint, for inference
    workdir.checkpoints, workdir.summaries, workdir.eval_file('fvd'), ...

    <workdir>/config.json          the run's Config (training writes it; everything rebuilds from it)
    <workdir>/checkpoints/         tf.train.CheckpointManager: model, optimizer, step, stage
    <workdir>/summaries/           TensorBoard events
    <workdir>/metrics.json         reconstruction quality at the end of training
    <workdir>/reconstructions/     a few reconstructed training videos
    <workdir>/denoiser/            the denoising VQ-VAE-2 (inrv_tf.denoiser)
    <workdir>/fvd_cache/           real-video FVD statistics (inrv_tf.evaluate.fvd)
    <workdir>/eval_<table>.json    the paper's tables (inrv_tf.evaluate)

Loading restores the model only (not the optimizer). This module never
imports training code.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib

from inrv_tf import config as config_lib
from inrv_tf import files


class WorkdirError(ValueError):
  """A workdir that cannot be used: not a folder, unreadable, another configuration."""


class CheckpointError(ValueError):
  """A workdir without a usable checkpoint, or one from another configuration."""


class Workdir:
  """The files of one run, by role. Paths only: nothing is read or made until asked."""

  CONFIG = 'config.json'

  def __init__(self, path):
    self.path = pathlib.Path(path)

  def __fspath__(self) -> str:
    return str(self.path)

  def __str__(self) -> str:
    return str(self.path)

  @property
  def config_file(self) -> pathlib.Path:
    return self.path / self.CONFIG

  @property
  def checkpoints(self) -> pathlib.Path:
    return self.path / 'checkpoints'

  @property
  def summaries(self) -> pathlib.Path:
    return self.path / 'summaries'

  @property
  def metrics_file(self) -> pathlib.Path:
    return self.path / 'metrics.json'

  @property
  def reconstructions(self) -> pathlib.Path:
    return self.path / 'reconstructions'

  @property
  def denoiser(self) -> pathlib.Path:
    return self.path / 'denoiser'

  @property
  def fvd_cache(self) -> pathlib.Path:
    return self.path / 'fvd_cache'

  def eval_file(self, table: str) -> pathlib.Path:
    return self.path / f'eval_{table}.json'

  def scratch(self, worker: str) -> pathlib.Path:
    """Where a non-chief worker writes the checkpoints it must take part in."""
    return self.path / f'.scratch_{worker}'

  # config.json -------------------------------------------------------------
  def read_config(self) -> config_lib.Config:
    """The config the run was trained with.

    Raises:
      FileNotFoundError: not a workdir (no config.json).
      WorkdirError: a config.json that does not parse, naming the file.
    """
    if not self.config_file.is_file():
      raise FileNotFoundError(f'{self.path} is not an inrv_tf workdir: no {self.CONFIG}.')
    try:
      return config_lib.Config.from_json(self.config_file.read_text())
    except (ValueError, TypeError) as e:
      raise WorkdirError(f'{self.config_file} is unreadable: {e}') from e

  def write_config(self, config: config_lib.Config) -> None:
    files.write_text(self.config_file, config.to_json() + '\n')

  def prepare(self, config: config_lib.Config, chief: bool = True) -> None:
    """Makes the folder (new, or holding a run of this configuration); writes config.json.

    Raises:
      WorkdirError: not a usable folder, or a run of another model or data.
    """
    if self.path.exists() and not self.path.is_dir():
      raise WorkdirError(f'--workdir {self.path} exists and is not a directory.')
    try:
      self.path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
      raise WorkdirError(f'Cannot create --workdir {self.path}: {e}') from e
    if not os.access(self.path, os.R_OK | os.W_OK | os.X_OK):
      raise WorkdirError(f'--workdir {self.path} is not readable and writable.')
    if self.config_file.exists():
      self._check_same_run(self.read_config(), config)
    if chief:
      self.write_config(config)

  def _check_same_run(self, saved: config_lib.Config, config: config_lib.Config) -> None:
    for section in ('model', 'data'):
      a, b = getattr(saved, section), getattr(config, section)
      diffs = [f'{f.name}: saved {getattr(a, f.name)!r}, requested {getattr(b, f.name)!r}'
               for f in dataclasses.fields(a) if getattr(a, f.name) != getattr(b, f.name)]
      if diffs:
        raise WorkdirError(
            f'{self.path} holds a run with a different {section} configuration:\n  '
            + '\n  '.join(diffs) + '\nUse another --workdir, or the saved settings.')
    for name in ('loss', 'precision', 'seed', 'batch_size'):
      a, b = getattr(saved.train, name), getattr(config.train, name)
      if a != b:
        raise WorkdirError(f'{self.path} was trained with {name}={a!r}; requested {b!r}. '
                           'Use another --workdir, or the saved setting.')

  # Checkpoints -------------------------------------------------------------
  def latest_checkpoint(self) -> str:
    """The newest checkpoint's path. Raises CheckpointError if there is none."""
    import tensorflow as tf  # Deferred: reading config.json needs no TensorFlow.
    path = tf.train.latest_checkpoint(str(self.checkpoints))
    if path is None:
      raise CheckpointError(f'No checkpoint in {self.checkpoints}: train first with '
                            f'python -m inrv_tf.train --workdir={self.path}.')
    return path

  def load_model(self, checkpoint: str | None = None):
    """Rebuilds the model from config.json and restores its weights.

    Returns:
      (Config, InrvModel).
    Raises:
      FileNotFoundError: no config.json (not a workdir).
      CheckpointError: no checkpoint, or one whose variables do not match the config.
    """
    import tensorflow as tf  # Deferred with the model: see latest_checkpoint.
    from inrv_tf.model import inrv as model_lib
    config = self.read_config()
    model = model_lib.build_model(config.model)
    path = checkpoint or self.latest_checkpoint()
    try:
      tf.train.Checkpoint(model=model).read(path).assert_existing_objects_matched(
      ).expect_partial()
    except (AssertionError, ValueError, tf.errors.OpError) as e:
      raise CheckpointError(f'Checkpoint {path} does not match the model of '
                            f'{self.config_file}: {e}') from e
    saved = _count_model_variables(path)
    if saved != len(model.checkpointed_variables):
      raise CheckpointError(
          f'Checkpoint {path} holds {saved} model variables; the model of '
          f'{self.config_file} has {len(model.checkpointed_variables)}.')
    return config, model


def load_model(workdir, checkpoint: str | None = None):
  """`Workdir(workdir).load_model(checkpoint)`: (Config, InrvModel)."""
  return Workdir(workdir).load_model(checkpoint)


def read_config(workdir) -> config_lib.Config:
  """`Workdir(workdir).read_config()`."""
  return Workdir(workdir).read_config()


def _count_model_variables(path: str) -> int:
  """Variables reachable from the checkpoint's `model` object.

  Restoring matches what both sides have; this count also catches a model
  whose variables were never tracked (and so stay at their initial values).
  A variable saved under a shorter path (e.g. through the optimizer) is still
  a node under `model` in the object graph, so it counts.
  """
  import tensorflow as tf
  from tensorflow.core.protobuf import trackable_object_graph_pb2
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
