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

import dataclasses

from absl import app
from absl import flags

from inrv_tf import cli

COMMANDS = ('train', 'apply')
FLAGS = flags.FLAGS
TRAIN_FLAGS = ('size', 'steps', 'batch_size', 'lr', 'loss', 'num_videos', 'seed')


def define_flags() -> None:
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
  from inrv_tf.denoiser import denoising
  config = denoising.small() if FLAGS.preset == 'small' else denoising.paper()
  changes = {name: FLAGS[name].value for name in TRAIN_FLAGS
             if FLAGS[name].value is not None}
  return dataclasses.replace(config, **changes)


def main(argv):
  if len(argv) != 2 or argv[1] not in COMMANDS:
    raise app.UsageError(f'Usage: python -m inrv_tf.denoise {{{"|".join(COMMANDS)}}} '
                         f'--workdir=DIR ...; got {argv[1:]}')
  with cli.user_errors():
    cli.require('workdir')
    from inrv_tf import workdir as workdir_lib
    workdir_lib.read_config(FLAGS.workdir)       # A wrong --workdir fails before TensorFlow.
    if argv[1] == 'train':
      from inrv_tf.denoiser import train as denoiser_train
      denoiser_train.train_denoiser(FLAGS.workdir, config_from_flags())
    else:
      if not FLAGS.input or not FLAGS.out:
        raise ValueError('apply needs --input=FILE|DIR and --out=DIR.')
      from inrv_tf.denoiser import denoising
      denoising.denoise_files(FLAGS.workdir, denoising.input_files(FLAGS.input), FLAGS.out,
                              FLAGS.fps)


if __name__ == '__main__':
  cli.run(main, define_flags)
