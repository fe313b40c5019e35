"""A workdir: one training run on disk, and the one place that knows its layout.

    workdir = Workdir('/tmp/balls')
    config, model = workdir.load_model()         # the newest checkpoint, for inference
    workdir.checkpoints, workdir.summaries, workdir.eval_file('fvd'), ...

    <workdir>/config.json          the run's Config (training writes it; everything rebuilds from it)
    <workdir>/config_history.json  what each resume changed (lr, steps, ...), at which step
    <workdir>/checkpoints/         tf.train.CheckpointManager: model, optimizer, step, stage
    <workdir>/summaries/           TensorBoard events
    <workdir>/metrics.json         reconstruction quality at the end of training
    <workdir>/reconstructions/     a few reconstructed training videos (video_<id>.mp4/.gif,
                                   video_<id>_vs_truth.mp4/.gif) and montage.png (truth
                                   over reconstruction, 8 videos)
    <workdir>/training_curves.json loss and PSNR of every progress line (kept across resumes)
    <workdir>/training_curves.png  the plot of it, drawn at the end of training
    <workdir>/denoiser/            the denoising VQ-VAE-2 (inrv_tf.denoiser)
    <workdir>/fvd_cache/           real-video FVD statistics (inrv_tf.evaluate.fvd)
    <workdir>/eval_<table>.json    the paper's tables (inrv_tf.evaluate)
    <workdir>/train.lock           the trainer that uses it: pid and host (`lock`)
    <workdir>/diverged/            checkpoints that led into a non-finite loss (moved aside)

Loading restores the model only (not the optimizer). This module never
imports training code. A trainer holds `lock()` while it runs and, holding
it, removes what a killed run left behind (`clean_leftovers`).
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import re
import shutil
import time
from typing import Callable

from inrv_tf import config as config_lib
from inrv_tf import files
from inrv_tf import lockfile

# What tf.train.CheckpointManager leaves in checkpoints/ when its process dies
# in a save: the shards' folder before the merge, and TensorFlow's atomic
# writes (C++ `<file>.tempstate<n>`, Python `checkpoint.tmp<uuid hex>`).
_CHECKPOINT_TEMPS = re.compile(r'^(ckpt-\d+_temp|.+\.tempstate\d+|checkpoint\.tmp[0-9a-f]{32})$')
_CHECKPOINT_DATA = re.compile(r'^(ckpt-\d+)\.data-\d{5}-of-\d{5}$')


class WorkdirError(ValueError):
  """A workdir that cannot be used: not a folder, unreadable, another configuration."""


class CheckpointError(ValueError):
  """A workdir without a usable checkpoint, or one from another configuration."""


class Workdir:
  """The files of one run, by role. Paths only: nothing is read or made until asked."""

  CONFIG = 'config.json'
  LOCK = 'train.lock'

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
  def montage_file(self) -> pathlib.Path:
    return self.reconstructions / 'montage.png'

  @property
  def curves_file(self) -> pathlib.Path:
    return self.path / 'training_curves.json'

  @property
  def curves_plot(self) -> pathlib.Path:
    return self.path / 'training_curves.png'

  @property
  def denoiser(self) -> pathlib.Path:
    return self.path / 'denoiser'

  @property
  def diverged(self) -> pathlib.Path:
    return self.path / 'diverged'

  @property
  def fvd_cache(self) -> pathlib.Path:
    return self.path / 'fvd_cache'

  @property
  def lock_file(self) -> pathlib.Path:
    return self.path / self.LOCK

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
      WorkdirError: a config.json that cannot be read, does not parse, or holds
        a value of the wrong type or range, naming the file and the value.
    """
    if not self.config_file.is_file():
      raise FileNotFoundError(f'{self.path} is not an inrv_tf workdir: no {self.CONFIG}.')
    try:
      data = json.loads(self.config_file.read_text())
      _check_json_types(data)
      return config_lib.Config.from_dict(data)
    except OSError as e:
      raise WorkdirError(f'Cannot read {self.config_file}: {e.strerror or e}.') from e
    except (ValueError, TypeError) as e:      # JSON, types, ranges; UnicodeDecodeError too.
      raise WorkdirError(f'{self.config_file} is not a valid inrv_tf config: {e}') from e

  def write_config(self, config: config_lib.Config) -> None:
    files.write_text(self.config_file, config.to_json() + '\n')

  def prepare(self, config: config_lib.Config, chief: bool = True,
              log: Callable[[str], None] = print) -> dict:
    """Makes the folder (new, or holding a run of this configuration); writes config.json.

    A resume may change the settings in config.RESUMABLE (steps, lr, intervals,
    precision, chunking, ...): config.json then records what the run uses from
    now on, and config_history.json appends what changed, at which step.

    Returns:
      {'train.lr': (saved, requested), ...}: the changes (empty for a new run).
    Raises:
      WorkdirError: not a usable folder, or a run of another model, data or objective.
    """
    self._make_folder()
    changes = {}
    if self.config_file.exists():
      try:
        changes = config_lib.resume_changes(self.read_config(), config)
      except ValueError as e:
        raise WorkdirError(f'{self.path} holds a run with {e}\nUse another --workdir, or '
                           'the saved settings.') from e
    if chief:
      if changes:
        self._record_changes(changes)
        log('Resuming with changed settings: ' + ', '.join(
            f'{name.split(".")[-1]} {old!r} -> {new!r}' for name, (old, new) in changes.items())
            + f' (recorded in {self.history_file}).')
      self.write_config(config)
    return changes

  @property
  def history_file(self) -> pathlib.Path:
    return self.path / 'config_history.json'

  def _record_changes(self, changes: dict) -> None:
    """Appends {time, step, changes} to config_history.json (written atomically)."""
    history = json.loads(self.history_file.read_text()) if self.history_file.is_file() else []
    history.append({'time': time.strftime('%Y-%m-%dT%H:%M:%S%z'), 'step': self.saved_step(),
                    'changes': {name: list(pair) for name, pair in changes.items()}})
    files.write_json(self.history_file, history)

  def saved_step(self) -> int:
    """The step of the newest checkpoint (0 if none), read from its state file."""
    state = self.checkpoints / 'checkpoint'
    found = re.search(r'^model_checkpoint_path: "[^"]*-(\d+)"', state.read_text(),
                      re.M) if state.is_file() else None
    return int(found.group(1)) if found else 0

  def _make_folder(self) -> None:
    if self.path.exists() and not self.path.is_dir():
      raise WorkdirError(f'--workdir {self.path} exists and is not a directory.')
    try:
      self.path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
      raise WorkdirError(f'Cannot create --workdir {self.path}: {e}') from e
    if not os.access(self.path, os.R_OK | os.W_OK | os.X_OK):
      raise WorkdirError(f'--workdir {self.path} is not readable and writable.')

  def check_evaluation(self, table: str, settings, out=None) -> pathlib.Path:
    """Checks a paper table's request before anything is loaded; returns its JSON path.

    Raises:
      ValueError: an unknown table, a request over settings.max_pixels
        (PixelBudgetError), no workdir, an `out` that cannot be written.
    """
    settings.check_table(table)
    settings.check_budget(table, self.read_config())
    return files.check_writable_file(out or self.eval_file(table), '--out')

  # A trainer's lock and leftovers --------------------------------------------
  def lock(self, log: Callable[[str], None] = print):
    """A context manager: holds train.lock (lockfile.hold) while a trainer runs.

    Makes the folder first. A second trainer fails with LockError (a
    ValueError) naming the owner's pid and host and the lock file; a lock of a
    dead process of this host is taken over, with a message.
    """
    self._make_folder()
    return lockfile.hold(self.lock_file, f'--workdir {self.path}', log)

  def clean_leftovers(self, log: Callable[[str], None] = print) -> list[pathlib.Path]:
    """Removes what a killed run left behind; returns what it removed.

    Only names this project writes: in checkpoints/, CheckpointManager's
    `ckpt-N_temp/` folders, TensorFlow's `*.tempstate<n>` and `checkpoint.tmp<hex>`
    files and `ckpt-N.data-*` without their `ckpt-N.index` (a save cut short;
    complete checkpoints stay, listed or not); `.scratch_<worker>/` folders of
    non-chief workers; and anywhere in the workdir, hidden temporary files of
    `files.atomic_path` whose writer, a process of this host, no longer runs.
    Call it holding `lock()`, before training starts, on the chief only: no
    other trainer may be saving.
    """
    removed = []
    if self.checkpoints.is_dir():
      names = set(os.listdir(self.checkpoints))
      for name in sorted(names):
        data = _CHECKPOINT_DATA.match(name)
        if _CHECKPOINT_TEMPS.match(name) or (data and f'{data[1]}.index' not in names):
          removed.append(self.checkpoints / name)
    removed += sorted(self.path.glob('.scratch_*'))
    for folder, _, names in os.walk(self.path):
      for name in names:
        owner = files.temp_owner(name)
        if owner and owner[0] == files.host_tag() and not lockfile.pid_alive(owner[1]):
          removed.append(pathlib.Path(folder) / name)
    for path in removed:
      if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
      else:
        path.unlink(missing_ok=True)
      log(f'Removed {path}, left by an interrupted run.')
    return removed

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


_JSON_KINDS = {'None': 'null', 'bool': 'true or false', 'str': 'a string', 'int': 'an integer',
               'float': 'a number', 'tuple': 'a list of numbers'}


def _json_kinds(annotation: str) -> list[str]:
  """'int | None' -> ['int', 'None']; 'tuple[int, ...]' -> ['tuple']."""
  return [kind.split('[')[0].strip() for kind in annotation.split('|')]


def _json_type_ok(kind: str, value) -> bool:
  """Whether a JSON value is of a field's kind ('int', 'float', 'tuple', ...)."""
  number = isinstance(value, (int, float)) and not isinstance(value, bool)
  fits = {'None': value is None, 'bool': isinstance(value, bool), 'str': isinstance(value, str),
          'int': number and isinstance(value, int), 'float': number,
          'tuple': isinstance(value, list) and all(
              isinstance(x, (int, float)) and not isinstance(x, bool) for x in value)}
  return fits.get(kind, False)


def _check_json_types(data) -> None:
  """Raises ValueError naming the first config.json value of the wrong JSON type."""
  if not isinstance(data, dict):
    raise ValueError(f'expected a JSON object of sections, got {type(data).__name__}.')
  sections = {'data': config_lib.DataConfig, 'model': config_lib.ModelConfig,
              'train': config_lib.TrainConfig}
  for section, cls in sections.items():
    values = data.get(section, {})
    if not isinstance(values, dict):
      raise ValueError(f'"{section}" must be a JSON object, got {values!r}.')
    for field in dataclasses.fields(cls):
      if field.name not in values:
        continue
      kinds = _json_kinds(field.type if isinstance(field.type, str) else field.type.__name__)
      if not any(_json_type_ok(kind, values[field.name]) for kind in kinds):
        expected = ' or '.join(_JSON_KINDS.get(kind, kind) for kind in kinds)
        raise ValueError(f'{section}.{field.name} must be {expected}, got '
                         f'{json.dumps(values[field.name])}.')


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
