"""The INR's first layer as a matmul against the same layer fused from per-axis tables.

    python benchmarks/first_layer.py                  # paper INR, 25 x 100 x 100, 3-frame chunks

Every encoded feature depends on one axis only (the coordinate itself, or a sin or
cos of it), so the first layer splits by axis:

    W0 enc(t, y, x) + b0 = A_t[t] + A_y[y] + A_x[x],   A_t = enc_t(all t) W0[rows of t] + b0

and the 63-wide matmul over every pixel becomes three small matmuls over the
axes' distinct values and a sum of table rows per pixel. Two ways to form that
sum, each timed forward and backward (with the ReLU after it and the gradient of
W0 and b0, as a training step needs them) against the matmul:

- 'grid': a chunk of whole frames as one broadcast sum A_t[:, None] + A_yx[None]
  (A_yx = A_y[:, None] + A_x[None] over one frame); its gradient is sums over axes.
  Only for whole frames of a full grid (`paper`'s chunks, not `fast`'s random pixels).
- 'gather': any set of pixels, A_t[t_i] + A_y[y_i] + A_x[x_i] by tf.gather; its
  gradient is segment sums (what `fast`'s random pixels would need).

Before timing, each fused form's output and gradients are checked against the
matmul's (max_abs_diff in the JSON line). One line per form, then the float32
matmul ceiling.
"""

from __future__ import annotations

import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import inrv_tf  # noqa: E402,F401  (before TensorFlow: turns oneDNN on)
from absl import app  # noqa: E402
from absl import flags  # noqa: E402

import common  # noqa: E402  (benchmarks/common.py)

FLAGS = flags.FLAGS
flags.DEFINE_integer('frames', 25, 'Frames of the grid.')
flags.DEFINE_integer('size', 100, 'Square frame size.')
flags.DEFINE_integer('chunk_frames', 3, 'Whole frames per chunk (paper: 32,768 pixels '
                     'is 3 frames of 100 x 100).')
flags.DEFINE_integer('num_frequencies', 10, 'Octaves of the encoding.')
flags.DEFINE_integer('width', 256, 'Outputs of the first layer.')
flags.DEFINE_integer('steps', 15, 'Timed calls (median reported).')


def axis_rows(num_frequencies: int) -> list[list[int]]:
  """The rows of W0 that read each axis, in the order a one-axis encoding writes them.

  `encoding.encode_position` writes the 3 coordinates, then for each octave k and
  axis j the pair (sin, cos) at 3 + 6k + 2j; a one-axis encoding writes x, then
  (sin, cos) per octave.
  """
  return [[j] + [3 + 6 * k + 2 * j + s for k in range(num_frequencies) for s in (0, 1)]
          for j in range(3)]


def main(argv):
  del argv
  import numpy as np
  import tensorflow as tf
  from inrv_tf.model import encoding
  from inrv_tf.model import grid as grid_lib
  from inrv_tf.train import distribute

  t, side, k, width = FLAGS.chunk_frames, FLAGS.size, FLAGS.num_frequencies, FLAGS.width
  n = t * side * side
  gen = tf.random.Generator.from_seed(0)
  features = tf.constant(encoding.encoded_grid(FLAGS.frames, side, side, k)[:n])
  fan_in = features.shape[1]
  w0 = tf.Variable(gen.normal([fan_in, width]) * (2.0 / fan_in) ** 0.5)
  b0 = tf.Variable(gen.normal([width]) * 0.1)
  upstream = gen.normal([n, width])                 # d loss / d relu output

  def one_axis(count, total=None):
    coords = grid_lib.coords_of(tf.range(count), total or count)
    return encoding.encode_position(coords[:, None], k)          # [count, 1 + 2k]

  enc_t, enc_y, enc_x = one_axis(t, FLAGS.frames), one_axis(side), one_axis(side)
  rows = axis_rows(k)
  pixel = np.arange(n)
  t_i, y_i, x_i = (tf.constant(v, tf.int32) for v in (
      pixel // (side * side), (pixel // side) % side, pixel % side))

  def tables():
    w_t, w_y, w_x = (tf.gather(w0, r) for r in rows)
    return tf.matmul(enc_t, w_t) + b0, tf.matmul(enc_y, w_y), tf.matmul(enc_x, w_x)

  def matmul_form():
    return tf.nn.bias_add(tf.matmul(features, w0), b0)

  def grid_form():
    a_t, a_y, a_x = tables()
    a_yx = tf.reshape(a_y[:, None] + a_x[None], [side * side, width])
    return tf.reshape(a_t[:, None] + a_yx[None], [n, width])

  def gather_form():
    a_t, a_y, a_x = tables()
    return tf.gather(a_t, t_i) + tf.gather(a_y, y_i) + tf.gather(a_x, x_i)

  def forward_backward(form):
    @tf.function
    def run():
      with tf.GradientTape() as tape:
        out = tf.nn.relu(form())
        loss = tf.reduce_sum(out * upstream)
      return [out] + [tf.convert_to_tensor(g) for g in tape.gradient(loss, [w0, b0])]
    return run

  forms = {'matmul': matmul_form, 'grid': grid_form, 'gather': gather_form}
  runs = {name: forward_backward(form) for name, form in forms.items()}
  reference = runs['matmul']()
  for name, run in runs.items():
    got = run()
    diff = max(float(tf.reduce_max(tf.abs(a - b)) / (tf.reduce_max(tf.abs(b)) + 1e-12))
               for a, b in zip(got, reference))
    if diff > 1e-4:
      raise SystemExit(f'{name}: differs from the matmul by {diff:.2e} (relative)')
    seconds = common.median_seconds(lambda r=run: [x.numpy() for x in r()], FLAGS.steps,
                                    warmup=2)
    print(json.dumps({'benchmark': 'first_layer', 'form': name, 'chunk_pixels': n,
                      'width': width, 'features': fan_in, 'median_s': round(seconds, 5),
                      'max_rel_diff': diff, 'onednn': distribute.onednn_enabled(),
                      **common.cpu()}), flush=True)
  print(json.dumps(common.matmul_ceiling('float32')), flush=True)


if __name__ == '__main__':
  app.run(main)
