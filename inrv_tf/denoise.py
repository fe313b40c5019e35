"""The denoising VQ-VAE-2 of paper Section 4.2, as a command.

    python -m inrv_tf.denoise train --workdir=/tmp/balls [--preset=small] [--steps=N]
        [--batch_size=N] [--lr=X] [--size=S] [--num_videos=N] [--loss=l2|l1]
    python -m inrv_tf.denoise apply --workdir=/tmp/balls --input=/tmp/samples --out=/tmp/sharp

train renders INR-V's reconstructions of the workdir's training videos as
inputs, the real frames as targets, and trains the denoiser under
<workdir>/denoiser/ (it resumes; a larger --steps continues it). apply runs it
over a video file (.mp4, .gif, .npy uint8[T, H, W, 3]) or every such file of a
folder, writing each to --out under its own name and format, same shape.
Errors (no INR-V workdir, no denoiser trained yet, bad input) print one line
and exit 1. See docs/denoise.md.
"""

from __future__ import annotations

import pathlib
import sys

from absl import app
from absl import flags

COMMANDS = ('train', 'apply')
SUFFIXES = ('.mp4', '.gif', '.npy')

FLAGS = flags.FLAGS


def define_flags() -> None:
  """Defined when run as a program, so that importing this module next to
  another command's (generate's --workdir, ...) never clashes."""
  f = flags
  f.DEFINE_string('workdir', None, 'A trained INR-V workdir (config.json + checkpoints/).')
  f.DEFINE_enum('preset', 'paper', ['paper', 'small'], 'train: denoiser size preset.')
  f.DEFINE_integer('size', None, 'train: frame side (a multiple of 8; default '
                   'min(128, the dataset\'s side)).')
  f.DEFINE_integer('steps', None, 'train: total Adam steps.')
  f.DEFINE_integer('batch_size', None, 'train: frames per step.')
  f.DEFINE_float('lr', None, 'train: Adam learning rate.')
  f.DEFINE_enum('loss', None, ['l2', 'l1'], 'train: reconstruction loss.')
  f.DEFINE_integer('num_videos', None, 'train: training videos to make pairs from.')
  f.DEFINE_integer('seed', None, 'train: seeds the frame batches.')
  f.DEFINE_string('input', None, 'apply: a video file or a folder of them.')
  f.DEFINE_string('out', None, 'apply: folder for the denoised videos.')
  f.DEFINE_integer('fps', 10, 'apply: frames per second of written .mp4/.gif.')


def config_from_flags():
  """The preset with the flags that were given (the only reader of FLAGS here)."""
  import dataclasses
  from inrv_tf.denoiser import denoising
  config = denoising.small() if FLAGS.preset == 'small' else denoising.paper()
  changes = {name: getattr(FLAGS, name) for name in (
      'size', 'steps', 'batch_size', 'lr', 'loss', 'num_videos', 'seed')
      if getattr(FLAGS, name) is not None}
  return dataclasses.replace(config, **changes)


def input_files(path) -> list[pathlib.Path]:
  """The video files named by --input: one file, or a folder's, sorted."""
  path = pathlib.Path(path)
  if path.is_dir():
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in SUFFIXES)
    if not files:
      raise ValueError(f'{path} holds no {"/".join(SUFFIXES)} files.')
    return files
  if not path.is_file():
    raise ValueError(f'No such video file or folder: {path}')
  if path.suffix.lower() not in SUFFIXES:
    raise ValueError(f'{path}: expected one of {", ".join(SUFFIXES)}.')
  return [path]


def apply(workdir, files, out, fps: int, log=print) -> list[pathlib.Path]:
  """Denoises each file into <out>/<its name>; returns the written paths."""
  import numpy as np
  from inrv_tf.data import pipeline
  from inrv_tf.denoiser import denoising
  from inrv_tf import files
  model = denoising.load_denoiser(workdir)
  out = pathlib.Path(out)
  if any(f.parent.resolve() == out.resolve() for f in files):
    raise ValueError(f'--out={out} holds the inputs: pick another folder.')
  out.mkdir(parents=True, exist_ok=True)
  written = []
  for path in files:
    video = files.read_video(path)                                     # uint8[T, H, W, 3]
    sharp = denoising.denoise_videos(model, pipeline.to_float(video[None]).numpy())
    sharp = pipeline.to_uint8(sharp[0]).numpy()
    target = out / path.name
    if target.suffix.lower() == '.npy':
      with files.atomic_path(target) as tmp:
        np.save(tmp, sharp)
    else:
      files.write_video(target, sharp, fps)
    written.append(target)
  log(f'Denoised {len(written)} videos at {model.size} x {model.size} into {out}.')
  return written


def main(argv):
  if len(argv) != 2 or argv[1] not in COMMANDS:
    raise app.UsageError(f'Usage: python -m inrv_tf.denoise {{{"|".join(COMMANDS)}}} '
                         f'--workdir=DIR ...; got {argv[1:]}')
  from absl import logging
  logging.set_verbosity(logging.WARNING)
  from inrv_tf import files  # Light: the checks below fail fast, before TensorFlow loads.
  try:
    if not FLAGS.workdir:
      raise ValueError('--workdir is required.')
    files.read_config(FLAGS.workdir)
    if argv[1] == 'train':
      from inrv_tf.denoiser import train as denoiser_train
      denoiser_train.train_denoiser(FLAGS.workdir, config_from_flags())
    else:
      if not FLAGS.input or not FLAGS.out:
        raise ValueError('apply needs --input=FILE|DIR and --out=DIR.')
      files = input_files(FLAGS.input)
      apply(FLAGS.workdir, files, FLAGS.out, FLAGS.fps)
  except (ValueError, FileNotFoundError) as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(1)


if __name__ == '__main__':
  define_flags()
  app.run(main)
