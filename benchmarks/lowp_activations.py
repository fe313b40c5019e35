"""The INR's hidden layers with their activations kept in bfloat16 or float16.

    python benchmarks/lowp_activations.py                       # paper INR, 25 x 100 x 100
    python benchmarks/lowp_activations.py --precision=float16
    python benchmarks/lowp_activations.py --precision=float16 --precision=bfloat16  # both

In a bfloat16 (or float16) step today (`inr._dense`), every hidden layer casts its
float32 input down, multiplies, casts the product up, adds the bias and applies
the ReLU in float32; the backward pass casts the same way. Counted in bytes per
activation that is about 56 of element-wise traffic per hidden layer (forward and
backward), which on the AMX Xeon was most of the bfloat16 step ("On an Intel Xeon
with AMX", benchmarks/README.md). The variant here ('lowp_activations') casts once
after the float32 first layer and keeps the activations in the low precision up
to the float32 last layer:

    x = cast(relu(x W0 + b0))                          # float32 first layer, then cast
    x = relu(x W_i + cast(b_i))   for hidden i         # matmul, bias and ReLU low
    y = cast(x, float32) W_last + b_last               # float32 last layer

about 16 bytes per activation. It rounds as often as today (the product, then the
sum with the bias, where today rounds the product and the next layer's input),
and rounds the biases too. Both are timed, forward and backward over pixel
chunks with the L1 loss as `inr.chunked_inr_grads` runs them (float16 with its
gradient scaling), and both gradients are compared with float32's: one JSON line
per variant, then the matmul ceiling at the precision (each precision in turn). The
speed is what a CPU with AMX or a GPU would show; on a CPU without them TensorFlow's
fallback kernels run both, and only the gradient errors mean anything (and for bfloat16 those come
from a kernel that truncates: use --precision=float16 there).
"""

from __future__ import annotations

import json
import pathlib
import sys
from unittest import mock

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import inrv_tf  # noqa: E402,F401  (before TensorFlow: turns oneDNN on)
from absl import app  # noqa: E402
from absl import flags  # noqa: E402

import common  # noqa: E402  (benchmarks/common.py)

FLAGS = flags.FLAGS
flags.DEFINE_integer('frames', 25, 'Frames of the grid.')
flags.DEFINE_integer('size', 100, 'Square frame size.')
flags.DEFINE_integer('chunk_pixels', 32768, 'Pixels per chunk (the paper preset\'s).')
flags.DEFINE_multi_enum('precision', ['bfloat16'], ['bfloat16', 'float16'],
                        'Low precision; repeat the flag for several, in one process.')
flags.DEFINE_integer('width', 256, 'Width of the INR\'s hidden layers (paper: 256).')
flags.DEFINE_integer('steps', 3, 'Timed calls (median reported).')


def add_bias(y, b):
  """y + b whose bias gradient sums its pixels in float32, in either low precision.

  On a CPU, TensorFlow's BiasAddGrad sums bfloat16 in bfloat16 (73% off over 32,768
  rows of small values; float16 in float32, one rounding), and tf.reduce_sum, the
  gradient of a broadcast `+`, sums float16 partly in float16 (0.51% off; bfloat16
  in float32). So bfloat16 adds with `+` and float16 with tf.nn.bias_add.
  """
  import tensorflow as tf
  return y + b if b.dtype == tf.bfloat16 else tf.nn.bias_add(y, b)


def apply_lowp_activations(params, features, compute_dtype, layout='per_video'):
  """`inr.apply_inr` for one video, activations between hidden layers in compute_dtype."""
  import tensorflow as tf
  del layout   # One video: the per_video layout's 2-D matmuls.
  num_layers = len(params) // 2
  w = [p[0] for p in params[0::2]]
  b = [p[0] for p in params[1::2]]
  x = tf.cast(tf.nn.relu(tf.nn.bias_add(tf.matmul(features, w[0]), b[0])), compute_dtype)
  for i in range(1, num_layers - 1):
    x = tf.nn.relu(add_bias(tf.matmul(x, tf.cast(w[i], compute_dtype)),
                            tf.cast(b[i], compute_dtype)))
  y = tf.nn.bias_add(tf.matmul(tf.cast(x, tf.float32), w[-1]), b[-1])
  return y[None]


def main(argv):
  del argv
  import tensorflow as tf
  from inrv_tf.model import encoding
  from inrv_tf.model import inr
  from inrv_tf.model import losses

  spec = inr.InrSpec(3 + 6 * 10, (FLAGS.width,) * 4, 3)
  gen = tf.random.Generator.from_seed(0)
  params = [gen.normal([1, *s]) * (2.0 / s[0]) ** 0.5 if len(s) == 2
            else gen.normal([1, *s]) * 0.01 for s in spec.param_shapes]
  features = tf.constant(encoding.encoded_grid(FLAGS.frames, FLAGS.size, FLAGS.size, 10))
  pixels = int(features.shape[0])
  target = gen.uniform([1, pixels, 3], -1, 1)
  def grads(compute_dtype):
    return inr.chunked_inr_grads(params, features, target, losses.get('l1'),
                                 FLAGS.chunk_pixels, compute_dtype)[2]

  reference = tf.function(grads)(tf.float32)
  gflop = 6 * pixels * spec.macs_per_pixel / 1e9
  for precision in FLAGS.precision:
    dtype = tf.as_dtype(precision)
    for variant, apply in (('today', inr.apply_inr),
                           ('lowp_activations', apply_lowp_activations)):
      with mock.patch.object(inr, 'apply_inr', apply):   # Traced on its first call, here.
        step = tf.function(lambda: grads(dtype))
        got = step()
        seconds = common.median_seconds(lambda: [g.numpy() for g in step()], FLAGS.steps,
                                        warmup=0)
      error = common.relative_error(got, reference)
      print(json.dumps({'benchmark': 'lowp_activations', 'variant': variant,
                        'precision': precision, 'pixels': pixels,
                        'chunk_pixels': FLAGS.chunk_pixels, 'median_s': round(seconds, 4),
                        'gflops_per_s': round(gflop / seconds, 1),
                        'grad_rel_error': round(error, 6), **common.cpu()}), flush=True)
    print(json.dumps(common.matmul_ceiling(precision)), flush=True)


if __name__ == '__main__':
  app.run(main)
