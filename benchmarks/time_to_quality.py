"""Time to quality: how long training takes to reach a reconstruction PSNR.

    python benchmarks/time_to_quality.py --dataset=video_folder/f25_s64_st1_... \
        --preset=paper --size=64 --batch_size=1 --budget_s=1200 --targets=18,20,22

Trains a preset on a dataset for a wall-clock budget (--budget_s of training
time, or --steps), and every --eval_every_s seconds of training (or every
--eval_every_steps steps, to compare runs at equal steps) evaluates the
reconstruction of every training video as Table 1 defines it (uint8 on
[0, 255], PSNR and SSIM averaged over the videos; the clock is paused while it
evaluates). Prints one JSON line per evaluation (seconds, steps, psnr, ssim),
then one with the seconds and steps at which each --targets PSNR was first
reached (null if never), and the CPU (model name; bfloat16 units) it ran on.
With --workdir the trained model is saved there as a workdir (config.json and
the last step's checkpoint), so `invert`, benchmarks/invert.py --workdir and
the other commands can open it.
"""

from __future__ import annotations

import json
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

import inrv_tf  # noqa: E402,F401  (before TensorFlow: turns oneDNN on)
from inrv_tf.config import LR_SCHEDULES  # noqa: E402
from inrv_tf.config import PRESETS  # noqa: E402
from absl import app  # noqa: E402
from absl import flags  # noqa: E402

import common  # noqa: E402  (benchmarks/common.py)

FLAGS = flags.FLAGS
flags.DEFINE_enum('preset', 'paper', list(PRESETS), 'Model and training preset.')
flags.DEFINE_string('dataset', 'bouncing_balls', 'Dataset (name, NAME/CONFIG or a path).')
flags.DEFINE_string('data_dir', None, 'TFDS data_dir.')
flags.DEFINE_integer('frames', None, 'Frames per video (default: the preset\'s).')
flags.DEFINE_integer('size', None, 'Square training size (default: the preset\'s).')
flags.DEFINE_integer('num_videos', None, 'Videos (default: all).')
flags.DEFINE_integer('batch_size', None, 'Videos per step (default: the preset\'s).')
flags.DEFINE_float('lr', None, 'Adam learning rate (default: the preset\'s).')
flags.DEFINE_enum('lr_schedule', None, list(LR_SCHEDULES),
                  'Learning-rate schedule (default: the preset\'s constant); cosine '
                  'decays to 0 at --steps.')
flags.DEFINE_integer('warmup_steps', None, 'Linear learning-rate warmup steps.')
flags.DEFINE_float('pixel_fraction', None, 'Fraction of pixels per step.')
flags.DEFINE_string('precision', None, 'float32, bfloat16, float16 or auto.')
flags.DEFINE_enum('bf16_matmul', 'kernels', ['kernels', 'emulated'],
                  'bfloat16 layers: TensorFlow\'s kernels, or float32 matmuls on operands '
                  'rounded as oneDNN\'s bfloat16 kernels round them (common.emulated_dense): '
                  'their numerics on a CPU without AVX-512.')
flags.DEFINE_integer('chunk_pixels', None, 'Pixels per INR pass (default: the preset\'s; '
                     '0: all at once). Changes the order of float32 sums, not the math.')
flags.DEFINE_integer('seed', 0, 'Seed.')
flags.DEFINE_float('budget_s', 600.0, 'Seconds of training (evaluation excluded).')
flags.DEFINE_integer('steps', None, 'Stop after this many steps instead (or first).')
flags.DEFINE_float('eval_every_s', 60.0, 'Seconds of training between evaluations.')
flags.DEFINE_integer('eval_every_steps', None, 'Evaluate every this many steps instead '
                     '(runs compared at equal steps), and once more at the budget\'s end.')
flags.DEFINE_list('targets', ['18', '20', '22', '24'], 'PSNR targets in dB.')
flags.DEFINE_string('workdir', None, 'If set, a new folder where the trained model is '
                    'saved as a workdir (config.json and a checkpoint), for `invert`, '
                    '`generate`, benchmarks/invert.py --workdir and the rest.')


def main(argv):
  del argv
  if FLAGS.workdir and pathlib.Path(FLAGS.workdir).exists():
    sys.exit(f'error: --workdir={FLAGS.workdir} exists; give a new folder.')
  from inrv_tf import config as config_lib   # No TensorFlow yet: bad flags fail fast.
  data = {'dataset': FLAGS.dataset, 'data_dir': FLAGS.data_dir,
          **config_lib.dataset_defaults(FLAGS.dataset).get('data', {})}
  if FLAGS.frames:
    data['frames'] = FLAGS.frames
  if FLAGS.size:
    data.update(height=FLAGS.size, width=FLAGS.size)
  for name in ('num_videos', 'pixel_fraction'):
    if FLAGS[name].value is not None:
      data[name] = FLAGS[name].value
  train = {'seed': FLAGS.seed, 'progressive': False,
           **config_lib.dataset_defaults(FLAGS.dataset).get('train', {})}
  for name in ('batch_size', 'lr', 'lr_schedule', 'warmup_steps', 'precision'):
    if FLAGS[name].value is not None:
      train[name] = FLAGS[name].value
  if FLAGS.chunk_pixels is not None:
    train['chunk_pixels'] = FLAGS.chunk_pixels or None
  if FLAGS.steps:
    train['steps'] = FLAGS.steps       # The horizon of a cosine schedule.
  config = config_lib.preset(FLAGS.preset).replace(data=data, train=train)
  if config.train.lr_schedule == 'cosine' and not FLAGS.steps:
    # The preset's own horizon (its `steps`) is not where a --budget_s run stops.
    sys.exit(f'error: --preset={FLAGS.preset} with a cosine learning rate, which decays to 0 '
             'at --steps: give --steps.')
  import numpy as np
  import tensorflow as tf
  from absl import logging
  from inrv_tf.data import batches
  from inrv_tf.data import pipeline
  from inrv_tf.data import video_store
  from inrv_tf.evaluate import reconstruction_table
  from inrv_tf.train import distribute
  from inrv_tf.train import step as step_lib
  logging.set_verbosity(logging.WARNING)
  builder = pipeline.get_builder(config.data.dataset, config.data.data_dir)
  config = pipeline.resolve_num_videos(config, builder)
  precision, why = distribute.resolve_precision(config.train.precision)
  config = config.replace(train={'precision': precision})
  if FLAGS.bf16_matmul == 'emulated':   # For the whole run: the step is traced below.
    from unittest import mock
    from inrv_tf.model import inr
    mock.patch.object(inr, '_dense', common.emulated_dense()).start()
  strategy = tf.distribute.get_strategy()
  state = step_lib.create_state(config, strategy)
  d = config.data
  features = tf.Variable(state.model.encoded_grid(d.frames, d.height, d.width),
                         trainable=False)
  train_step = step_lib.make_train_step(state, config, strategy, features)
  store = video_store.VideoStore(builder, d, config.model.num_videos, log=lambda _: None)
  ds = batches.make_dataset(builder, d, config.model.num_videos, config.train.batch_size,
                            config.train.seed, store=store)
  targets = sorted(float(t) for t in FLAGS.targets)
  reached = {t: None for t in targets}
  header = {'benchmark': 'time_to_quality', 'preset': FLAGS.preset, 'dataset': FLAGS.dataset,
            'videos': config.model.num_videos, 'frames': d.frames, 'size': d.height,
            'batch_size': config.train.batch_size, 'lr': config.train.lr,
            'lr_schedule': config.train.lr_schedule,
            'warmup_steps': config.train.warmup_steps,
            'pixel_fraction': d.pixel_fraction, 'chunk_pixels': config.train.chunk_pixels,
            'precision': precision, 'precision_why': why, 'bf16_matmul': FLAGS.bf16_matmul,
            'eval_every_steps': FLAGS.eval_every_steps, 'seed': FLAGS.seed, **common.cpu()}
  print(json.dumps({**header, 'event': 'start'}), flush=True)
  trained, steps, next_eval = 0.0, 0, 0.0
  batches_iter = iter(ds)
  while True:
    if trained >= next_eval:
      quality = dict(reconstruction_table.reconstruction_quality(state.model, builder, config))
      print(json.dumps({'benchmark': 'time_to_quality', 'seconds': round(trained, 1),
                        'steps': steps, 'psnr': round(quality['psnr'], 3),
                        'ssim': round(quality['ssim'], 4)}), flush=True)
      for t in targets:
        if reached[t] is None and quality['psnr'] >= t:
          reached[t] = {'seconds': round(trained, 1), 'steps': steps}
      next_eval = float('inf') if FLAGS.eval_every_steps else next_eval + FLAGS.eval_every_s
      if trained >= FLAGS.budget_s or (FLAGS.steps and steps >= FLAGS.steps):
        break
    start = time.perf_counter()
    out = train_step(next(batches_iter))
    if not np.isfinite(float(out['loss'])):
      raise FloatingPointError(f'Loss is {float(out["loss"])} at step {steps + 1}.')
    trained += time.perf_counter() - start
    steps += 1
    if FLAGS.eval_every_steps and (steps % FLAGS.eval_every_steps == 0
                                   or trained >= FLAGS.budget_s):
      next_eval = trained
    if FLAGS.steps and steps >= FLAGS.steps:
      next_eval = trained       # Evaluate once more at the last step, then stop.
  if FLAGS.workdir:
    from inrv_tf import workdir as workdir_lib
    workdir = workdir_lib.Workdir(FLAGS.workdir)
    workdir.prepare(config.replace(train={'steps': steps}), log=lambda _: None)
    tf.train.CheckpointManager(state.checkpoint(), str(workdir.checkpoints), 1).save(
        checkpoint_number=steps)
  print(json.dumps({**header, 'event': 'end', 'seconds': round(trained, 1), 'steps': steps,
                    'time_to': {f'{t:g}': reached[t] for t in targets}}), flush=True)


if __name__ == '__main__':
  app.run(main)
