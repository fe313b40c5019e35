"""Exports a trained workdir as a SavedModel in the layout TF Serving loads.

    python -m export.export_decoder --workdir=/tmp/balls --export_dir=/tmp/models --name=balls

writes /tmp/models/balls/<version>/{saved_model.pb, variables/, assets.extra/},
version being the next free integer unless --version is given. The SavedModel
is written to a dot-named temporary folder inside /tmp/models/balls (TF
Serving only looks at integer names) and renamed into place, so a server
watching the base never sees half a model. Signatures: export/serving_module.py.
"""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import tempfile

from absl import flags

from inrv_tf import cli
from inrv_tf import config as config_lib

CONFIG_ASSET = 'assets.extra/inrv_config.json'
_NAME = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._-]*$')


class ExportError(ValueError):
  """An export that cannot be written (bad name, taken version, ...)."""


def existing_versions(model_dir) -> list[int]:
  """The integer version folders of <export_dir>/<name>, ascending."""
  path = pathlib.Path(model_dir)
  if not path.is_dir():
    return []
  return sorted(int(p.name) for p in path.iterdir() if p.is_dir() and p.name.isdigit())


def next_version(model_dir) -> int:
  versions = existing_versions(model_dir)
  return versions[-1] + 1 if versions else 1


def export_module(module, model_dir, version: int | None = None,
                  config_json: str | None = None) -> pathlib.Path:
  """Saves an InrvServingModule as <model_dir>/<version>/, atomically.

  Args:
    module: `serving_module.InrvServingModule`.
    model_dir: <export_dir>/<name>; created if missing.
    version: a positive integer not yet used; None: the next free one.
    config_json: the training Config as JSON, kept in assets.extra/ for people
      (TF Serving ignores that folder but for warmup files).
  Returns:
    The version folder.
  Raises:
    ExportError: a version <= 0 or one that exists. Anything tf.saved_model.save
      raises, after removing the temporary folder.
  """
  import tensorflow as tf
  model_dir = pathlib.Path(model_dir)
  if version is None:
    version = next_version(model_dir)
  if version <= 0:
    raise ExportError(f'--version must be a positive integer, got {version}.')
  target = model_dir / str(version)
  if target.exists():
    raise ExportError(f'{target} exists: pick another --version, or leave it out '
                      f'to take the next free one ({next_version(model_dir)}).')
  model_dir.mkdir(parents=True, exist_ok=True)
  tmp = pathlib.Path(tempfile.mkdtemp(prefix=f'.export-{version}-', dir=model_dir))
  try:
    tf.saved_model.save(module, str(tmp), signatures=module.signatures())
    if config_json is not None:
      (tmp / CONFIG_ASSET).parent.mkdir(exist_ok=True)
      (tmp / CONFIG_ASSET).write_text(config_json + '\n')
    # rename(2) fails on a non-empty target: a concurrent export that took the
    # same number first is reported, never overwritten.
    os.rename(tmp, target)
  except OSError as e:
    if target.exists():
      raise ExportError(f'{target} appeared during the export: {e}') from e
    raise
  finally:
    if tmp.exists():
      shutil.rmtree(tmp, ignore_errors=True)
  return target


def export_workdir(workdir, export_dir, name: str, version: int | None = None,
                   checkpoint: str | None = None, denoise: bool = False,
                   **module_kwargs) -> pathlib.Path:
  """Restores a trained workdir and exports it to <export_dir>/<name>/<version>/.

  Args:
    denoise: pass every signature's frames through the workdir's denoising
      VQ-VAE-2 (python -m inrv_tf.denoise train).
    module_kwargs: max_pixels, chunk_pixels, max_videos of InrvServingModule.
  Raises:
    ExportError: a bad name or version. checkpoint.CheckpointError,
      FileNotFoundError: no usable workdir. ValueError: bad limits.
  """
  from inrv_tf import workdir as workdir_lib
  from export import serving_module
  if not name or not _NAME.match(name):
    raise ExportError(f'--name must be letters, digits, ".", "_" or "-" (not '
                      f'starting with "." or "-"), got {name!r}.')
  from inrv_tf.denoiser import denoising
  config, model = workdir_lib.load_model(workdir, checkpoint)
  den = denoising.load_denoiser(workdir) if denoise else None
  module = serving_module.InrvServingModule(model, denoiser=den, **module_kwargs)
  return export_module(module, pathlib.Path(export_dir) / name, version,
                       config.to_json())


def define_flags(flag_values: flags.FlagValues = flags.FLAGS) -> flags.FlagValues:
  """Defines the command line's flags on `flag_values` (at run time, not import,
  so that other command lines' --workdir never collide with these in one process)."""
  from export import serving_module
  define = lambda kind, name, default, text: getattr(flags, f'DEFINE_{kind}')(
      name, default, text, flag_values=flag_values)
  define('string', 'workdir', None, 'Trained workdir (config.json + checkpoints/).')
  define('string', 'export_dir', None, 'Base folder of exported models (TF Serving\'s models root).')
  define('string', 'name', None, 'Model name: the export goes to <export_dir>/<name>/<version>/.')
  define('integer', 'version', None, 'Version folder; default: one more than the highest there.')
  define('integer', 'max_pixels', serving_module.DEFAULT_MAX_PIXELS,
         'Largest videos * frames * height * width one request may render.')
  define('integer', 'chunk_pixels', config_lib.CHUNK_PIXELS,
         'Pixels (over all videos of a request) the INR runs on at once.')
  define('integer', 'max_videos', serving_module.DEFAULT_MAX_VIDEOS,
         'Largest number of videos one request may ask for.')
  define('string', 'checkpoint', None, 'A checkpoint path (default: the workdir\'s newest).')
  define('bool', 'denoise', False, 'Pass every signature\'s frames through the workdir\'s '
         'denoising VQ-VAE-2 (python -m inrv_tf.denoise train).')
  return flag_values


def export_from_flags(flag_values: flags.FlagValues) -> pathlib.Path:
  """Runs the export the parsed flags describe; on an error prints one line, exits 1."""
  f = flag_values
  with cli.user_errors():
    cli.require('workdir', 'export_dir', 'name', flag_values=f)
    path = export_workdir(f.workdir, f.export_dir, f.name, f.version, f.checkpoint,
                          max_pixels=f.max_pixels, chunk_pixels=f.chunk_pixels,
                          max_videos=f.max_videos, denoise=f.denoise)
  print(f'Exported {f.workdir} to {path}')
  return path


def main(argv):
  cli.no_arguments(argv)
  export_from_flags(flags.FLAGS)


if __name__ == '__main__':
  cli.run(main, define_flags)
