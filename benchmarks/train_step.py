"""Training-step throughput: one JSON line per figure.

    python benchmarks/train_step.py                       # paper 25x100x100 batch 1 and 2, small
    python benchmarks/train_step.py --preset=paper --frames=25 --size=100 --batch_size=1 \
        --precision=bfloat16

Each configuration runs in its own process (so peak RSS is its own). A line
holds median_s (one optimizer step over every pixel of the batch),
pixel_steps_per_s, gflops (6 x (pixels x INR MACs per pixel + videos x
hypernetwork MACs): forward plus backward), achieved GFLOP/s, and peak_rss_mib.
A matmul-ceiling line (2048 x 2048 tf.matmul at the same precision) from the
same process comes with it.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import inrv_tf  # noqa: E402,F401  (before TensorFlow: turns oneDNN on)
from inrv_tf.config import PRESETS  # noqa: E402
from absl import app  # noqa: E402
from absl import flags  # noqa: E402
import common  # noqa: E402  (benchmarks/common.py)

flags.DEFINE_enum('preset', None, list(PRESETS), 'Preset; unset: the standard set.')
flags.DEFINE_integer('frames', None, 'Frames (default: the preset\'s).')
flags.DEFINE_integer('size', None, 'Square size (default: the preset\'s).')
flags.DEFINE_integer('batch_size', None, 'Videos per step (default: the preset\'s).')
flags.DEFINE_enum('precision', 'float32', ['float32', 'bfloat16', 'float16'],
                  'Matmul precision.')
flags.DEFINE_bool('xla', False, 'jit_compile the step.')
flags.DEFINE_integer('chunk_pixels', None, 'Pixels per INR pass (default: the preset\'s).')
flags.DEFINE_float('pixel_fraction', None, 'Fraction of each video\'s pixels per step '
                   '(default: the preset\'s).')
flags.DEFINE_integer('steps', 5, 'Timed steps.')
flags.DEFINE_integer('warmup', 2, 'Untimed steps first (tracing).')
FLAGS = flags.FLAGS

STANDARD = [('paper', 25, 100, 1), ('paper', 25, 100, 2), ('small', None, None, None)]


def peak_rss_mib() -> float:
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def hypernet_macs(model_config, spec) -> int:
  """Multiply-adds of the hypernetwork for one code."""
  m = model_config
  heads = len(spec.param_shapes)
  hidden = heads * (m.latent_dim * m.hyper_width + (m.hyper_depth - 1) * m.hyper_width ** 2)
  return hidden + m.hyper_width * spec.num_params


def bench_one(preset: str, frames, size, batch_size, precision: str, xla: bool,
              chunk_pixels, steps: int, warmup: int, pixel_fraction=None) -> dict:
  import tensorflow as tf
  from inrv_tf import config as config_lib
  from inrv_tf.train import distribute
  from inrv_tf.train import step as step_lib
  config = config_lib.preset(preset)
  data = {k: v for k, v in (('frames', frames), ('height', size), ('width', size)) if v}
  if pixel_fraction is not None:
    data['pixel_fraction'] = pixel_fraction
  train = {'precision': precision, **({'batch_size': batch_size} if batch_size else {})}
  if chunk_pixels is not None:
    train['chunk_pixels'] = chunk_pixels or None   # 0: every pixel at once.
  config = config.replace(data=data, train=train)
  config = config.replace(model={'num_videos': config.train.batch_size})
  d, b = config.data, config.train.batch_size
  strategy = tf.distribute.get_strategy()
  state = step_lib.create_state(config, strategy)
  features = tf.Variable(state.model.encoded_grid(d.frames, d.height, d.width),
                         trainable=False)
  step = step_lib.make_train_step(state, config, strategy, features, jit_compile=xla)
  batch = {'video': tf.random.uniform([b, d.frames, d.height, d.width, 3], -1, 1, seed=0),
           'video_id': tf.range(b, dtype=tf.int32)}
  seconds = common.median_seconds(lambda: step(batch)['loss'].numpy(), steps, warmup)
  pixels = b * step_lib.sampled_pixels(d.frames * d.height * d.width, d.pixel_fraction)
  spec = state.model.spec
  gflop = 6 * (pixels * spec.macs_per_pixel + b * hypernet_macs(config.model, spec)) / 1e9
  return {'benchmark': 'train_step', 'preset': preset, 'frames': d.frames,
          'height': d.height, 'width': d.width, 'batch_size': b, 'precision': precision,
          'pixel_fraction': d.pixel_fraction, 'xla': xla, 'chunk_pixels': config.train.chunk_pixels,
          'onednn': distribute.onednn_enabled(), 'median_s': seconds, 'pixel_steps_per_s': pixels / seconds,
          'gflops': gflop, 'gflops_per_s': gflop / seconds, 'peak_rss_mib': peak_rss_mib()}


def main(argv):
  del argv
  if FLAGS.preset is None:
    for preset, frames, size, batch in STANDARD:
      args = [sys.executable, os.path.abspath(__file__), f'--preset={preset}',
              f'--precision={FLAGS.precision}', f'--xla={FLAGS.xla}',
              f'--steps={FLAGS.steps}', f'--warmup={FLAGS.warmup}']
      args += [f'--frames={frames}', f'--size={size}', f'--batch_size={batch}'] if frames else []
      subprocess.run(args, check=True)
    return
  print(json.dumps(bench_one(FLAGS.preset, FLAGS.frames, FLAGS.size, FLAGS.batch_size,
                             FLAGS.precision, FLAGS.xla, FLAGS.chunk_pixels, FLAGS.steps,
                             FLAGS.warmup, FLAGS.pixel_fraction)),
        flush=True)
  print(json.dumps(common.matmul_ceiling(FLAGS.precision)), flush=True)


if __name__ == '__main__':
  app.run(main)
