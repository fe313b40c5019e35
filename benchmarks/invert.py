"""Inversion: seconds per step and seconds to the loss's plateau.

    python benchmarks/invert.py --preset=paper                  # untrained paper-size model
    python benchmarks/invert.py --workdir=/tmp/balls --batch=4

Inverts --batch videos of --frames x --size x --size (default 25 x 32 x 32, the
paper's superresolution input) on all pixels for --steps Adam steps (the
default of `inversion.invert`), from the mean code. With --workdir the targets
are the first --batch videos of the workdir's training data, resized to the
inverted size (real video when the model was trained on real video); without
it, videos of the untrained model's own space, rendered from random codes.

The plateau is the first step whose running-best PSNR is within --plateau_db of
the best PSNR of the whole run; `seconds_to_plateau` is the wall time of the
run up to that step, the first step's tracing included. An untrained model
has no plateau worth the name (its codes barely change its output): give a
trained --workdir for that figure; the per-step time does not depend on it. One JSON line with
median_s (one step), pixel_steps_per_s, gflops (per step: 6 x (pixels x INR
MACs) + the hypernetwork's forward and input gradient), peak_rss_mib, then a
matmul-ceiling line from the same process.
"""

from __future__ import annotations

import json
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import inrv_tf  # noqa: E402,F401  (before TensorFlow: turns oneDNN on)
from inrv_tf.config import PRESETS  # noqa: E402
from absl import app  # noqa: E402
from absl import flags  # noqa: E402

import common  # noqa: E402  (benchmarks/common.py: the matmul ceiling)

FLAGS = flags.FLAGS
flags.DEFINE_enum('preset', 'paper', list(PRESETS), 'Model size when no --workdir.')
flags.DEFINE_string('workdir', None, 'A trained workdir (default: an untrained model).')
flags.DEFINE_integer('size', 32, 'Square size inverted at.')
flags.DEFINE_integer('frames', 25, 'Frames per video.')
flags.DEFINE_integer('steps', None, 'Adam steps (default: config_lib.InversionSettings.steps).')
flags.DEFINE_integer('batch', 1, 'Videos inverted together.')
flags.DEFINE_integer('chunk_pixels', None, 'Pixels per INR pass (default: render\'s).')
flags.DEFINE_float('plateau_db', 0.1, 'PSNR within this of the run\'s best is the plateau.')


def plateau_step(psnr, tolerance_db: float) -> int:
  """1-based step from which the running best is within tolerance of the best."""
  import numpy as np
  running = np.maximum.accumulate(np.asarray(psnr))
  return int(np.argmax(running >= running[-1] - tolerance_db)) + 1


def main(argv):
  del argv
  import numpy as np
  import tensorflow as tf
  import render as render_benchmark   # benchmarks/render.py: model loading, RSS, device.
  from inrv_tf import config as config_lib
  from inrv_tf.train import distribute
  from inrv_tf.apps import inversion
  from inrv_tf.model import render
  model, source = render_benchmark.load_model(FLAGS.workdir, FLAGS.preset)
  chunk = FLAGS.chunk_pixels or config_lib.CHUNK_PIXELS
  steps = FLAGS.steps or config_lib.InversionSettings.steps
  frames, size, batch = FLAGS.frames, FLAGS.size, FLAGS.batch
  if FLAGS.workdir:
    from inrv_tf.data import pipeline
    from inrv_tf import workdir as workdir_lib
    config = workdir_lib.read_config(FLAGS.workdir)
    builder = pipeline.get_builder(config.data.dataset, config.data.data_dir)
    truth = next(iter(pipeline.eval_dataset(builder, config.data, batch, batch)))['video']
    videos = np.stack([inversion.prepare_video(v, frames, size, size) for v in truth.numpy()])
  else:
    codes = inversion.initial_codes(model, batch, 'random', seed=1)
    videos = render.render_array(model, codes, frames, size, size, chunk)
  mask = inversion.full_mask(frames, size, size)
  # `log` runs after every step (log_every=1): the time at which each step ended.
  ends = []
  start = time.perf_counter()
  result = inversion.invert(model, videos, mask, steps=steps, chunk_pixels=chunk,
                            log=lambda _: ends.append(time.perf_counter()), log_every=1)
  ends = np.asarray(ends) - start
  per_step = float(np.median(np.diff(ends)))     # without the first step's tracing
  psnr = 10 * np.log10(4.0 / np.maximum(result.losses.mean(axis=1), 1e-12))  # L2 on [-1, 1]
  # losses[i] is measured before update i: PSNR psnr[i] is reached when step i ends.
  at = plateau_step(psnr, FLAGS.plateau_db)
  pixels = batch * frames * size * size
  spec = model.spec
  hyper = sum(int(np.prod(v.shape)) for v in model.hypernet_variables)
  gflop = (6 * pixels * spec.macs_per_pixel + 4 * batch * hyper) / 1e9
  print(json.dumps({
      'benchmark': 'invert', 'model': source, 'preset': None if FLAGS.workdir else FLAGS.preset,
      'frames': frames,
      'height': size, 'width': size, 'batch': batch, 'chunk_pixels': chunk,
      'steps': result.steps, 'median_s': round(per_step, 4),
      'pixel_steps_per_s': round(pixels / per_step), 'gflops': round(gflop, 2),
      'gflops_per_s': round(gflop / per_step, 1),
      'plateau_step': at, 'plateau_psnr': round(float(psnr[at - 1]), 2),
      'best_psnr': round(float(psnr.max()), 2), 'start_psnr': round(float(psnr[0]), 2),
      'seconds_to_plateau': round(float(ends[at - 1]), 2),
      'first_step_s': round(float(ends[0]), 2),
      'seconds_whole_run': round(result.seconds, 2),
      'peak_rss_mib': round(render_benchmark.peak_rss_mb(), 1),
      'onednn': distribute.onednn_enabled(), 'device': render_benchmark.device_name(),
      'tensorflow': tf.__version__}), flush=True)
  print(json.dumps(common.matmul_ceiling('float32')), flush=True)


if __name__ == '__main__':
  app.run(main)
