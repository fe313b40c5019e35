"""Trains an INR-V video space.

    python -m inrv_tf.train --dataset=bouncing_balls --workdir=/tmp/balls --preset=small
    python -m inrv_tf.train --dataset=how2sign_faces --workdir=/tmp/h2s --preset=paper
    python -m inrv_tf.train --videos=~/my_videos --workdir=/tmp/mine --preset=fast
    python -m inrv_tf.train --videos=~/my_videos --workdir=/tmp/mine --preset=small

Flags left unset take the preset's value (and a dataset's own defaults,
config.DATASET_DEFAULTS: Moving-MNIST's 20 frames and weighted L2 loss). A run
resumes from its workdir; a larger --steps continues it.
"""

from __future__ import annotations

import os

from absl import flags

from inrv_tf import cli
from inrv_tf import config as config_lib

FLAGS = flags.FLAGS
# Flags named as a section's field: data.<name> and train.<name>.
DATA_FLAGS = ('frames', 'height', 'width', 'num_videos', 'subset_seed', 'pixel_fraction')
TRAIN_FLAGS = ('batch_size', 'steps', 'lr', 'lr_schedule', 'warmup_steps', 'loss',
               'lpips_weight', 'seed', 'progressive',
               'precision', 'chunk_pixels', 'xla', 'log_every', 'checkpoint_every',
               'final_eval_videos')


def define_flags() -> None:
  f = flags
  f.DEFINE_string('dataset', 'bouncing_balls', 'TFDS dataset folder name under datasets/, '
                  'or a path to one, optionally with /CONFIG (moving_mnist/generated_5k_small).')
  f.DEFINE_string('videos', None, 'Train on your own videos: a folder of .mp4, .mov, .avi, '
                  '.mkv, .webm, .gif files or frame folders. Its clips are built once under '
                  '--data_dir, keyed by its files and the clip settings, and reused while '
                  'they do not change (instead of --dataset).')
  f.DEFINE_integer('video_stride', 1, 'With --videos: keep every n-th frame of the videos.')
  f.DEFINE_string('workdir', None, 'Where checkpoints, summaries, config.json and outputs go.')
  f.DEFINE_string('data_dir', None, 'TFDS data directory (default: TFDS\'s).')
  f.DEFINE_enum('preset', 'paper', list(config_lib.PRESETS),
                'Model and training preset: paper (DESIGN.md\'s numbers), fast (the paper\'s '
                'model on a random quarter of the pixels per step), fast_cosine (fast with '
                'Adam 2e-4, 100 warmup steps and a cosine decay to 0 at --steps) or small '
                '(CPU-sized).')
  f.DEFINE_integer('frames', None, 'Frames per training video.')
  f.DEFINE_integer('size', None, 'Square training size (sets height and width).')
  f.DEFINE_integer('height', None, 'Training height.')
  f.DEFINE_integer('width', None, 'Training width.')
  f.DEFINE_integer('batch_size', None, 'Global batch size (videos per step).')
  f.DEFINE_integer('steps', None, 'Total training steps.')
  f.DEFINE_float('lr', None, 'Adam learning rate (a schedule\'s peak).')
  f.DEFINE_enum('lr_schedule', None, list(config_lib.LR_SCHEDULES),
                'constant (the paper) or cosine: decays from --lr to 0 at --steps, '
                'after the warmup.')
  f.DEFINE_integer('warmup_steps', None, 'Ramp the learning rate linearly up to --lr '
                   'over the first N steps (default 0).')
  f.DEFINE_enum('loss', None, ['l1', 'l2', 'weighted_l2'], 'Reconstruction loss.')
  f.DEFINE_float('lpips_weight', None, 'Adds this x LPIPS(VGG16) per frame to the loss (the '
                 'release: 0.7; default 0, the paper\'s L1 alone). Needs --lpips_weights.')
  f.DEFINE_string('lpips_weights', None, 'The LPIPS-VGG16 weights, an .npz (docs/lpips.md '
                  'says how to write it: no package ships them).')
  f.DEFINE_float('pixel_fraction', None, 'Fraction of pixels per video per step.')
  f.DEFINE_integer('seed', None, 'Random seed.')
  f.DEFINE_integer('num_videos', None, 'Train on the first N videos of the split.')
  f.DEFINE_integer('subset_seed', None, 'Seeds which videos each progressive stage takes '
                   '(random subsets, nested; default 0).')
  f.DEFINE_integer('latent_dim', None, 'Size of the latent code m (default: the preset\'s; '
                   'paper 128). The authors advise 64 below 2,000 videos, 128 above.')
  f.DEFINE_bool('progressive', None, 'Progressive training (stages of 10, 100, ... videos).')
  f.DEFINE_enum('precision', None, ['auto', 'float32', 'bfloat16', 'float16'],
                'Matmul precision of the INR\'s hidden layers; auto (default): bfloat16 '
                'where the CPU has avx512_bf16 or AMX or the GPU is Ampere or newer, float32 '
                'elsewhere (logged at start). float16 (gradients scaled by powers of two) '
                'for GPUs with float16 tensor cores but no bfloat16 (Volta, Turing).')
  f.DEFINE_bool('xla', None, 'Compile the forward and backward pass with XLA.')
  f.DEFINE_integer('chunk_pixels', None,
                   'Run the INR forward and backward over this many pixels at a time '
                   '(bounded memory for large batches and sizes); 0: all at once. '
                   'Default: the preset\'s (paper: 32768, small: all).')
  f.DEFINE_integer('log_every', None, 'Steps between progress lines and summaries.')
  f.DEFINE_integer('checkpoint_every', None, 'Steps between checkpoints.')
  f.DEFINE_integer('final_eval_videos', None, 'The end of the run measures reconstruction '
                   '(metrics.json) over the first N training videos (default: all).')
  f.DEFINE_enum('strategy', 'auto', ['auto', 'default', 'mirrored', 'multi_worker'],
                'tf.distribute strategy: auto = mirrored over >= 2 local GPUs, else default.')
  f.DEFINE_list('devices', None, 'Devices for the mirrored strategy, e.g. /gpu:0,/gpu:1.')
  f.DEFINE_bool('clip', None, 'Video-CLIP regularisation of the latent space (paper '
                'Section 3.2): frozen CLIP frame embeddings -> bi-GRU, merged with the '
                'code. Needs --clip_weights.')
  f.DEFINE_string('clip_weights', None,
                  'CLIP image-encoder weights for --clip: a keras-cv CLIP preset '
                  'directory, a .weights.h5 file, or a keras-cv preset name '
                  '(e.g. clip-vit-base-patch32; needs keras-nlp). See docs/clip.md.')


def config_from_flags():
  """Flags -> the frozen Config (checked as it is built): preset, dataset defaults, flags."""
  data = {'dataset': FLAGS.dataset, 'data_dir': FLAGS.data_dir}
  train = {}
  for section, changes in config_lib.dataset_defaults(FLAGS.dataset).items():
    (data if section == 'data' else train).update(changes)
  if FLAGS.size is not None:
    data.update(height=FLAGS.size, width=FLAGS.size)
  data.update({name: FLAGS[name].value for name in DATA_FLAGS if FLAGS[name].value is not None})
  train.update({name: FLAGS[name].value for name in TRAIN_FLAGS
                if FLAGS[name].value is not None})
  if train.get('chunk_pixels') == 0:
    train['chunk_pixels'] = None
  model = {} if FLAGS.clip is None else {'clip': FLAGS.clip}
  if FLAGS.latent_dim is not None:
    model['latent_dim'] = FLAGS.latent_dim
  if FLAGS.lpips_weights:
    train['lpips_weights'] = os.path.abspath(os.path.expanduser(FLAGS.lpips_weights))
  if FLAGS.clip_weights:
    spec = os.path.expanduser(FLAGS.clip_weights)
    # A local path is stored absolute, so a resume from elsewhere matches it.
    data['clip_weights'] = os.path.abspath(spec) if os.path.exists(spec) else spec
  return config_lib.preset(FLAGS.preset).replace(data=data, train=train, model=model)


def videos_config(config):
  """--videos: builds (or reuses) the folder's clips; the config then trains on them."""
  if FLAGS['dataset'].present:
    raise ValueError('--videos and --dataset both name the training data: give one.')
  from inrv_tf import workdir as workdir_lib
  from inrv_tf.data import video_folder
  workdir = workdir_lib.Workdir(FLAGS.workdir)
  saved = workdir.read_config().data.dataset if workdir.config_file.is_file() else None
  return video_folder.use_videos(config, FLAGS.videos, FLAGS.video_stride, saved)


def main(argv):
  cli.no_arguments(argv)
  with cli.user_errors():
    cli.require('workdir')
    config = config_from_flags()
    if FLAGS.videos:
      config = videos_config(config)
    from inrv_tf.train import distribute
    from inrv_tf.train import loop
    loop.run(config, FLAGS.workdir, distribute.make_strategy(FLAGS.strategy, FLAGS.devices))


def run_main():
  """Console-script entry point (`inrv-train`)."""
  cli.run(main, define_flags)


if __name__ == '__main__':
  run_main()
