"""Frames per second of the denoising VQ-VAE-2 (`denoising.denoise_videos`).

    python benchmarks/denoise.py                          # untrained, paper size, 128 x 128
    python benchmarks/denoise.py --workdir=/tmp/balls     # a trained denoiser

Prints one JSON line: frames per second over --videos x --frames frames at
--size x --size (best of --repeats, after a warm-up pass that also traces).
The weights do not change the cost, so the untrained paper-size VQ-VAE-2
(hidden 128, residual 64 x 2, 512 x 64 codes) measures the default denoiser.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from absl import app  # noqa: E402
from absl import flags  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string('workdir', None, 'An INR-V workdir with a trained denoiser '
                    '(default: an untrained denoiser of --preset).')
flags.DEFINE_enum('preset', 'paper', ['paper', 'small'], 'Denoiser size when no --workdir.')
flags.DEFINE_integer('size', 128, 'Frame side of the videos (resized to the denoiser\'s).')
flags.DEFINE_integer('videos', 2, 'Videos per call.')
flags.DEFINE_integer('frames', 16, 'Frames per video.')
flags.DEFINE_integer('frame_batch', None, 'Frames per VQ-VAE-2 pass (default: the library\'s).')
flags.DEFINE_integer('repeats', 3, 'Timed calls (the best is reported).')


def main(argv):
  del argv
  import numpy as np
  import tensorflow as tf
  import render as render_bench   # benchmarks/render.py: device_name().
  from inrv_tf.denoiser import denoising
  if FLAGS.workdir:
    den, source = denoising.load_denoiser(FLAGS.workdir), f'workdir {FLAGS.workdir}'
  else:
    config = denoising.paper() if FLAGS.preset == 'paper' else denoising.small()
    config = dataclasses.replace(config, size=config.size or denoising.MAX_SIZE)
    den, source = denoising.Denoiser(denoising.build(config), config), f'untrained {FLAGS.preset}'
  batch = FLAGS.frame_batch or denoising.FRAME_BATCH
  shape = (FLAGS.videos, FLAGS.frames, FLAGS.size, FLAGS.size, 3)
  videos = np.random.default_rng(0).uniform(-1, 1, shape).astype(np.float32)
  denoising.denoise_videos(den, videos, batch)                 # Warm-up (traces).
  times = []
  for _ in range(FLAGS.repeats):
    start = time.perf_counter()
    denoising.denoise_videos(den, videos, batch)
    times.append(time.perf_counter() - start)
  count = FLAGS.videos * FLAGS.frames
  print(json.dumps({
      'benchmark': 'denoise', 'model': source, 'denoiser_size': den.size,
      'height': FLAGS.size, 'width': FLAGS.size, 'frames': count, 'frame_batch': batch,
      'parameters': int(den.model.count_params()),
      'frames_per_second': round(count / min(times), 2),
      'seconds_per_frame': round(min(times) / count, 5),
      'device': render_bench.device_name(), 'tensorflow': tf.__version__}), flush=True)


if __name__ == '__main__':
  app.run(main)
