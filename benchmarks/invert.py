"""Inversion time per video.

    python benchmarks/invert.py --preset=paper --steps=50       # untrained paper-size model
    python benchmarks/invert.py --workdir=/tmp/balls --batch=4 --steps=500

Inverts --batch videos of --frames x --size x --size (default 25 x 32 x 32, the
paper's superresolution input) for --steps Adam steps on all pixels, and
prints one JSON line: seconds per video (the whole run, first trace included,
divided by the batch), seconds per step after the first, the steps used, and
the peak RSS. The targets are random videos: timing does not depend on them.
"""

from __future__ import annotations

import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from absl import app  # noqa: E402
from absl import flags  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_enum('preset', 'paper', ['paper', 'small'], 'Model size when no --workdir.')
flags.DEFINE_string('workdir', None, 'A trained workdir (default: an untrained model).')
flags.DEFINE_integer('size', 32, 'Square size inverted at.')
flags.DEFINE_integer('frames', 25, 'Frames per video.')
flags.DEFINE_integer('steps', 100, 'Adam steps.')
flags.DEFINE_integer('batch', 1, 'Videos inverted together.')
flags.DEFINE_integer('chunk_pixels', None, 'Pixels per INR pass (default: render\'s).')


def main(argv):
  del argv
  import numpy as np
  import tensorflow as tf
  import render as render_benchmark   # benchmarks/render.py: model loading, RSS, device.
  from inrv_tf import inversion
  from inrv_tf import render
  model, source = render_benchmark.load_model(FLAGS.workdir, FLAGS.preset)
  chunk = FLAGS.chunk_pixels or render.DEFAULT_CHUNK_PIXELS
  shape = (FLAGS.batch, FLAGS.frames, FLAGS.size, FLAGS.size, 3)
  videos = np.random.default_rng(0).uniform(-1, 1, shape).astype(np.float32)
  mask = inversion.full_mask(*shape[1:4])
  result = inversion.invert(model, videos, mask, steps=FLAGS.steps, chunk_pixels=chunk)
  # The first step includes tracing: time the rest from a second, short run.
  warm = inversion.invert(model, videos, mask, steps=min(FLAGS.steps, 20) + 1,
                          chunk_pixels=chunk)
  first = inversion.invert(model, videos, mask, steps=1, chunk_pixels=chunk)
  per_step = (warm.seconds - first.seconds) / (warm.steps - 1)
  print(json.dumps({
      'benchmark': 'invert', 'model': source, 'preset': FLAGS.preset,
      'frames': FLAGS.frames, 'height': FLAGS.size, 'width': FLAGS.size,
      'batch': FLAGS.batch, 'steps': result.steps, 'chunk_pixels': chunk,
      'seconds_per_video': round(result.seconds / FLAGS.batch, 3),
      'seconds_per_step': round(per_step, 5),
      'seconds_per_video_500_steps': round(per_step * 500 / FLAGS.batch, 2),
      'peak_rss_mb': round(render_benchmark.peak_rss_mb(), 1),
      'device': render_benchmark.device_name(), 'tensorflow': tf.__version__}),
        flush=True)


if __name__ == '__main__':
  app.run(main)
