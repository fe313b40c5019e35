"""Where a bfloat16 training step loses accuracy: each rounding alone, measured.

    python benchmarks/bf16_rounding.py --workdir=WORKDIR    # a model trained on real clips

A bfloat16 hidden layer of the INR (`inr._dense` in bfloat16) rounds five things
to bfloat16's 8-bit mantissa, where float32 keeps 24:

    in    its inputs: the activations x and the weights w (forward)
    out   its output x w, before the float32 bias (forward)
    dy    the gradient arriving at its output (backward)
    dx    the gradient it passes down, dy w^T (backward)
    dw    its weight gradient x^T dy for one pixel chunk (backward)

Here every hidden layer runs as float32 matmuls on operands rounded exactly as
bfloat16 rounds them (round to nearest even), with each rounding switched on
alone, all together ('all': what oneDNN's bfloat16 kernels compute), and all
but one ('all_but_<r>'). For every training video of the workdir's model, each
variant's gradient of the INR's parameters is compared with float32's: the
relative error ||g - g32|| / ||g32|| of the whole gradient and of each hidden
layer's weights, and the rendered output's RMS error on [0, 255]. TensorFlow's
bfloat16 kernels are measured beside the emulation ('bfloat16'), and a first line
('kernel_output') says how they round their float32 sums on this CPU: to nearest even
(oneDNN, with AVX-512 or AMX), or by truncation (TensorFlow's fallback kernel on CPUs
without AVX-512). TensorFlow's float16 kernels are measured beside them, as
training runs them ('float16': each chunk's output gradient scaled by a power of two,
`inr.float16_grad_scale`) and without that scaling ('float16_unscaled'). One JSON
line per variant, averaged over the videos.

A rounding whose removal takes most of 'all''s error is the one to keep in
float32 (benchmarks/README.md, "bfloat16 and quality").
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
flags.DEFINE_string('workdir', None, 'A trained workdir (e.g. time_to_quality.py --workdir).',
                    required=True)
flags.DEFINE_integer('videos', None, 'Training videos to measure (default: all).')
flags.DEFINE_integer('chunk_pixels', None, 'Pixels per chunk (default: the config\'s).')

def variants() -> dict:
  """name -> roundings (None: the real bfloat16 kernels)."""
  roundings = common.BF16_ROUNDINGS
  out = {'float32_emulated': frozenset()}
  out.update({r: frozenset([r]) for r in roundings})
  out['all'] = frozenset(roundings)
  out.update({f'all_but_{r}': frozenset(roundings) - {r} for r in roundings})
  out['bfloat16'] = None
  return out


def kernel_output_rounding() -> dict:
  """How TensorFlow's bfloat16 matmul rounds its float32 sums here: the share of a
  [2048, 256] x [256, 256] product's outputs equal to the exact sum rounded to nearest
  even, and truncated (toward zero); and the float16 matmul's share rounded to nearest."""
  import tensorflow as tf

  def product(dtype):
    gen = tf.random.Generator.from_seed(0)
    x, w = (tf.cast(gen.normal(s), dtype) for s in ([2048, 256], [256, 256]))
    exact = tf.matmul(tf.cast(x, tf.float32), tf.cast(w, tf.float32))
    return tf.cast(tf.matmul(x, w), tf.float32), exact

  def share(kernel, a):
    return round(float(tf.reduce_mean(tf.cast(tf.equal(kernel, a), tf.float32))), 4)

  kernel, exact = product(tf.bfloat16)
  truncated = tf.bitcast(tf.bitwise.bitwise_and(tf.bitcast(exact, tf.int32), -65536),
                         tf.float32)
  half, half_exact = product(tf.float16)
  return {'matches_nearest_even': share(kernel, tf.cast(tf.cast(exact, tf.bfloat16),
                                                        tf.float32)),
          'matches_truncation': share(kernel, truncated),
          'float16_matches_nearest_even': share(half, tf.cast(tf.cast(half_exact, tf.float16),
                                                              tf.float32))}


def main(argv):
  del argv
  import numpy as np
  import tensorflow as tf
  from inrv_tf import workdir as workdir_lib
  from inrv_tf.data import pipeline
  from inrv_tf.evaluate import table as table_lib
  from inrv_tf.model import inr
  from inrv_tf.model import losses

  config, model = workdir_lib.load_model(FLAGS.workdir)
  d = config.data
  builder = pipeline.get_builder(d.dataset, d.data_dir)
  count = min(FLAGS.videos or config.model.num_videos, config.model.num_videos)
  videos = np.concatenate(list(table_lib.load_videos(
      builder, d.split, range(count), d.frames, d.height, d.width, batch_size=4)))
  features = tf.constant(model.encoded_grid(d.frames, d.height, d.width))
  chunk = FLAGS.chunk_pixels or config.train.chunk_pixels or int(features.shape[0])
  loss_fn = losses.get(config.train.loss)
  num_layers = len(config.model.inr_widths) + 1

  unscaled = lambda grad: tf.ones([tf.shape(grad)[0]])

  def measure(dense, dtype, grad_scale=inr.float16_grad_scale):
    """Per video: (INR parameter gradients, render), with inr._dense = dense."""
    @tf.function
    def grads(params, target):
      return inr.chunked_inr_grads(params, features, target, loss_fn, chunk, dtype)[2]

    @tf.function
    def render(params):
      return inr.apply_inr_chunked(params, features, chunk, dtype)

    with mock.patch.object(inr, '_dense', dense), \
        mock.patch.object(inr, 'float16_grad_scale', grad_scale):   # Traced under both.
      return [(grads(p, t), render(p)) for p, t in zip(params, targets)]

  params = [model.inr_params(model.latent(tf.constant([v]))) for v in range(count)]
  targets = [tf.reshape(pipeline.to_float(videos[v:v + 1]), [1, -1, 3]) for v in range(count)]
  reference = measure(inr._dense, tf.float32)

  def errors(measured):
    return [{
        'grad_rel_error': common.relative_error(got, want),
        **{f'w{i}_rel_error': common.relative_error(got[2 * i], want[2 * i])
           for i in range(1, num_layers - 1)},
        'render_rms_255': float(tf.sqrt(tf.reduce_mean(tf.square(render - render32))) * 127.5)}
        for (got, render), (want, render32) in zip(measured, reference)]

  results, named = {}, variants()
  for name, roundings in named.items():
    dense = inr._dense if roundings is None else common.emulated_dense(roundings)
    results[name] = errors(measure(dense, tf.bfloat16))
  results['float16'] = errors(measure(inr._dense, tf.float16))
  results['float16_unscaled'] = errors(measure(inr._dense, tf.float16, unscaled))
  kernels = {'float16': '(float16 kernels)', 'float16_unscaled': '(float16 kernels, unscaled)'}
  print(json.dumps({'benchmark': 'bf16_rounding', 'variant': 'kernel_output',
                    **kernel_output_rounding(), **common.cpu()}), flush=True)
  for name, rows in results.items():
    mean = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
    print(json.dumps({'benchmark': 'bf16_rounding', 'variant': name,
                      'roundings': sorted(named.get(name) or
                                          [kernels.get(name, '(bfloat16 kernels)')]),
                      'videos': count, 'chunk_pixels': chunk,
                      **{k: round(v, 6) for k, v in mean.items()}, **common.cpu()}),
          flush=True)


if __name__ == '__main__':
  app.run(main)
