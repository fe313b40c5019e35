"""The INR's forward and backward in each layout, chunk size, precision and XLA.

    python benchmarks/inr_layouts.py                    # the standard grid, paper INR
    python benchmarks/inr_layouts.py --videos=2 --layouts=per_video --chunks=32768 --xla

Times `inr.chunked_inr_grads` (forward, L1 loss and the gradient of every
per-video INR parameter, pixel chunk by pixel chunk) on a 25 x 100 x 100 grid
with the paper's INR (63 -> 256 x 4 -> 3), without the hypernetwork, so the
layouts of the same math can be compared alone: 'per_video' (2-D matmuls, one
wide first layer) and 'einsum' (batched products over a video axis). One JSON
line per configuration, then the matmul ceiling of each precision used.

`--nofirst_layer` times the same INR fed its first layer's outputs (f32[P, 256]
in place of the 63 encoded features; the hidden layers keep their precision,
the last float32): the difference is what the 63 -> 256 first layer costs, the
most a fused first layer could save.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import pathlib
import sys
from unittest import mock

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import inrv_tf  # noqa: E402,F401  (before TensorFlow: turns oneDNN on)
from absl import app  # noqa: E402
from absl import flags  # noqa: E402

import common  # noqa: E402  (benchmarks/common.py: the matmul ceiling)

FLAGS = flags.FLAGS
flags.DEFINE_integer('videos', 1, 'Videos (per-video INRs) per step.')
flags.DEFINE_integer('pixels', 25 * 100 * 100, 'Pixels per video.')
flags.DEFINE_list('layouts', ['per_video', 'einsum'], 'Layouts to time.')
flags.DEFINE_list('chunks', ['8192', '32768', '0'], 'Pixel chunks (0: all at once).')
flags.DEFINE_list('precisions', ['float32'], 'float32, bfloat16 and/or float16.')
flags.DEFINE_bool('xla', False, 'jit_compile the step.')
flags.DEFINE_integer('steps', 3, 'Timed steps (median reported).')
flags.DEFINE_bool('first_layer', True, 'Include the 63 -> 256 first layer (with '
                  '--nofirst_layer the INR starts from its outputs).')


def time_one(layout: str, chunk: int, precision: str, xla: bool) -> dict:
  import tensorflow as tf
  from inrv_tf.train import distribute
  from inrv_tf.model import inr
  from inrv_tf.model import losses
  spec = inr.InrSpec(63, (256, 256, 256, 256), 3)
  patch = contextlib.nullcontext()
  if not FLAGS.first_layer:
    spec = inr.InrSpec(256, (256, 256, 256), 3)
    # Its first layer is a hidden one: in the compute dtype, only the last in float32.
    patch = mock.patch.object(inr, 'layer_dtypes',
                              lambda n, dtype: [dtype] * (n - 1) + [tf.float32])
  b, p = FLAGS.videos, FLAGS.pixels
  gen = tf.random.Generator.from_seed(0)
  params = [tf.Variable(gen.normal([b, *s]) * (2.0 / s[0]) ** 0.5 if len(s) == 2
                        else tf.zeros([b, *s])) for s in spec.param_shapes]
  features = tf.Variable(gen.uniform([p, spec.in_features], -1, 1))
  target = tf.Variable(gen.uniform([b, p, 3], -1, 1))
  dtype = tf.as_dtype(precision)

  @tf.function(jit_compile=xla)
  def step():
    _, _, grads = inr.chunked_inr_grads(params, features, target, losses.get('l1'),
                                        chunk or p, dtype, layout)
    return tf.add_n([tf.reduce_sum(g) for g in grads])

  with patch:   # step() is traced on its first call, under the patch.
    seconds = common.median_seconds(lambda: step().numpy(), FLAGS.steps, warmup=1)
  gflop = 6 * b * p * spec.macs_per_pixel / 1e9
  return {'benchmark': 'inr_layouts', 'first_layer': FLAGS.first_layer,
          'videos': b, 'pixels': p, 'layout': layout,
          'chunk_pixels': chunk or p, 'precision': precision, 'xla': xla,
          'median_s': round(seconds, 4), 'gflops': round(gflop, 2),
          'gflops_per_s': round(gflop / seconds, 1),
          'onednn': distribute.onednn_enabled()}


def main(argv):
  del argv
  for layout, chunk, precision in itertools.product(
      FLAGS.layouts, map(int, FLAGS.chunks), FLAGS.precisions):
    print(json.dumps(time_one(layout, chunk, precision, FLAGS.xla)), flush=True)
  for precision in FLAGS.precisions:
    print(json.dumps(common.matmul_ceiling(precision)), flush=True)


if __name__ == '__main__':
  app.run(main)
