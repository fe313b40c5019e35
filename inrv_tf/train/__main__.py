"""Trains an INR-V video space.

    python -m inrv_tf.train --dataset=bouncing_balls --workdir=/tmp/balls --preset=small
    python -m inrv_tf.train --dataset=how2sign_faces --workdir=/tmp/h2s --preset=paper

Flags left unset take the preset's value (and, for Moving-MNIST, its 20 frames
and weighted L2 loss). A run resumes from its workdir; a larger --steps
continues it.
"""

from __future__ import annotations

import os
import sys

from absl import app
from absl import logging
from absl import flags

FLAGS = flags.FLAGS
flags.DEFINE_string('dataset', 'bouncing_balls', 'TFDS dataset folder name under datasets/, or a path to one.')
flags.DEFINE_string('workdir', None, 'Where checkpoints, summaries, config.json and outputs go.')
flags.DEFINE_string('data_dir', None, 'TFDS data directory (default: TFDS\'s).')
flags.DEFINE_enum('preset', 'paper', ['paper', 'small'], 'Model and training preset.')
flags.DEFINE_integer('frames', None, 'Frames per training video.')
flags.DEFINE_integer('size', None, 'Square training size (sets height and width).')
flags.DEFINE_integer('height', None, 'Training height.')
flags.DEFINE_integer('width', None, 'Training width.')
flags.DEFINE_integer('batch_size', None, 'Global batch size (videos per step).')
flags.DEFINE_integer('steps', None, 'Total training steps.')
flags.DEFINE_float('lr', None, 'Adam learning rate.')
flags.DEFINE_enum('loss', None, ['l1', 'l2', 'weighted_l2'], 'Reconstruction loss.')
flags.DEFINE_float('pixel_fraction', None, 'Fraction of pixels per video per step.')
flags.DEFINE_integer('seed', None, 'Random seed.')
flags.DEFINE_integer('num_videos', None, 'Train on the first N videos of the split.')
flags.DEFINE_bool('progressive', None, 'Progressive training (stages of 10, 100, ... videos).')
flags.DEFINE_enum('precision', None, ['float32', 'bfloat16'], 'Matmul precision.')
flags.DEFINE_bool('xla', None, 'Compile the forward and backward pass with XLA.')
flags.DEFINE_integer('chunk_pixels', None,
                     'Run the INR forward and backward over this many pixels at a time '
                     '(bounded memory for large batches and sizes); 0: all at once. '
                     'Default: the preset\'s (paper: 32768, small: all).')
flags.DEFINE_integer('log_every', None, 'Steps between progress lines and summaries.')
flags.DEFINE_integer('checkpoint_every', None, 'Steps between checkpoints.')
flags.DEFINE_enum('strategy', 'auto', ['auto', 'default', 'mirrored', 'multi_worker'],
                  'tf.distribute strategy: auto = mirrored over >= 2 local GPUs, else default.')
flags.DEFINE_list('devices', None, 'Devices for the mirrored strategy, e.g. /gpu:0,/gpu:1.')
flags.DEFINE_bool('clip', None, 'Video-CLIP regularisation of the latent space (paper '
                  'Section 3.2): frozen CLIP frame embeddings -> bi-GRU, merged with the '
                  'code. Needs --clip_weights.')
flags.DEFINE_string('clip_weights', None,
                    'CLIP image-encoder weights for --clip: a keras-cv CLIP preset '
                    'directory, a .weights.h5 file, or a keras-cv preset name '
                    '(e.g. clip-vit-base-patch32; needs keras-nlp). See docs/clip.md.')

# Per-dataset defaults that differ from a preset (only where the flag is unset).
DATASET_DEFAULTS = {'moving_mnist': {'data': {'frames': 20}, 'train': {'loss': 'weighted_l2'}}}


def config_from_flags():
  """Flags -> frozen Config (the only place that reads FLAGS)."""
  from inrv_tf import config as config_lib
  config = config_lib.preset(FLAGS.preset)
  data = {'dataset': FLAGS.dataset, 'data_dir': FLAGS.data_dir}
  train = {}
  for section, changes in DATASET_DEFAULTS.get(FLAGS.dataset, {}).items():
    (data if section == 'data' else train).update(changes)
  if FLAGS.size is not None:
    data.update(height=FLAGS.size, width=FLAGS.size)
  for name in ('frames', 'height', 'width', 'num_videos', 'pixel_fraction'):
    if getattr(FLAGS, name) is not None:
      data[name] = getattr(FLAGS, name)
  for name in ('batch_size', 'steps', 'lr', 'loss', 'seed', 'progressive', 'precision',
               'chunk_pixels', 'xla', 'log_every', 'checkpoint_every'):
    if getattr(FLAGS, name) is not None:
      train[name] = getattr(FLAGS, name)
  if train.get('chunk_pixels') == 0:
    train['chunk_pixels'] = None
  model = {} if FLAGS.clip is None else {'clip': FLAGS.clip}
  if FLAGS.clip_weights:
    spec = os.path.expanduser(FLAGS.clip_weights)
    # A local path is stored absolute, so a resume from elsewhere matches it.
    data['clip_weights'] = os.path.abspath(spec) if os.path.exists(spec) else spec
  return config.replace(data=data, train=train, model=model)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  if not FLAGS.workdir:
    raise app.UsageError('--workdir is required.')
  logging.set_verbosity(logging.WARNING)  # TFDS logs every dataset it opens.
  from inrv_tf import config as config_lib
  from inrv_tf.train import distribute
  from inrv_tf.train import loop
  try:
    config = config_from_flags()
    config_lib.validate(config)
    strategy = distribute.make_strategy(FLAGS.strategy, FLAGS.devices)
    loop.run(config, FLAGS.workdir, strategy)
  except (ValueError, FileNotFoundError, FloatingPointError) as e:
    # WorkdirError, DataError, NonFiniteLossError and bad values: one clear line.
    print(f'error: {e}', file=sys.stderr)
    sys.exit(1)


def run_main():
  """Console-script entry point (`inrv-train`)."""
  app.run(main)


if __name__ == '__main__':
  run_main()
