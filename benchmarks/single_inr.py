"""Single-INR fitting speed: one JSON line (seconds per Adam step over every pixel).

    python benchmarks/single_inr.py                     # the paper's INR on 25 x 100 x 100, 1 video
    python benchmarks/single_inr.py --videos=8 --steps=5

The INR is the paper's (63 -> 256 x 4 -> 3, NeRF encoding with 10 octaves);
a step is `single_inr.make_step` over all frames x size x size pixels of each
video (chunked by --chunk_pixels). The line holds median_s, seconds for the
paper's 750 steps per batch, pixel_steps_per_s, gflops (6 x pixels x INR MACs:
forward plus backward) and gflops_per_s.
"""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import inrv_tf  # noqa: E402,F401  (before TensorFlow: turns oneDNN on)
from absl import app  # noqa: E402
from absl import flags  # noqa: E402

import common  # noqa: E402  (benchmarks/common.py)

flags.DEFINE_integer('frames', 25, 'Frames per video.')
flags.DEFINE_integer('size', 100, 'Square frame size.')
flags.DEFINE_integer('videos', 1, 'Videos fitted together.')
flags.DEFINE_integer('steps', 3, 'Timed steps.')
flags.DEFINE_integer('warmup', 1, 'Untimed steps first (tracing).')
flags.DEFINE_integer('chunk_pixels', 1 << 15, 'Pixels per INR pass.')
FLAGS = flags.FLAGS


def bench(frames: int, size: int, videos: int, steps: int, warmup: int,
          chunk_pixels: int) -> dict:
  import keras
  import tensorflow as tf
  from inrv_tf import config as config_lib
  from inrv_tf.model import encoding
  from inrv_tf.model import inr
  from inrv_tf.evaluate import single_inr
  model = config_lib.paper().model
  spec = inr.InrSpec(encoding.num_features(model.num_frequencies), model.inr_widths,
                     model.out_channels)
  features = tf.constant(encoding.encoded_grid(frames, size, size, model.num_frequencies))
  target = tf.random.uniform([videos, features.shape[0], 3], -1, 1, seed=0)
  params = [tf.Variable(p) for p in single_inr.init_params(spec, videos)]
  optimizer = keras.optimizers.Adam(config_lib.EvalSettings.single_inr_lr,
                                    epsilon=config_lib.ADAM_EPSILON)
  optimizer.build(params)
  step = single_inr.make_step(params, optimizer, chunk_pixels)
  seconds = common.median_seconds(lambda: step(features, target).numpy(), steps, warmup)
  pixels = videos * features.shape[0]
  gflop = 6 * pixels * spec.macs_per_pixel / 1e9
  return {'benchmark': 'single_inr_step', 'frames': frames, 'height': size, 'width': size,
          'videos': videos, 'inr': f'{spec.in_features}-{"x".join(map(str, spec.widths))}-3',
          'chunk_pixels': chunk_pixels, 'median_s': seconds,
          'paper_fit_s': seconds * config_lib.EvalSettings.single_inr_steps,
          'pixel_steps_per_s': pixels / seconds, 'gflops': gflop,
          'gflops_per_s': gflop / seconds, 'device': 'gpu' if tf.config.list_physical_devices(
              'GPU') else f'cpu x {os.cpu_count()}'}


def main(argv):
  del argv
  print(json.dumps(bench(FLAGS.frames, FLAGS.size, FLAGS.videos, FLAGS.steps,
                         FLAGS.warmup, FLAGS.chunk_pixels)), flush=True)


if __name__ == '__main__':
  app.run(main)
