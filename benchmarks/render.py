"""Render time per frame and peak memory, from one code.

    python benchmarks/render.py --preset=paper                  # untrained paper-size model
    python benchmarks/render.py --workdir=/tmp/balls --sizes=128,256,360 --frames=25

Prints one JSON line per size: seconds per frame (best of --repeats, after a
warm-up render that also traces), seconds per video and the process's peak
RSS so far (ru_maxrss: it only grows, so a flat value over growing sizes means
chunked rendering keeps memory bounded, apart from the output itself).
"""

from __future__ import annotations

import json
import os
import pathlib
import resource
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from absl import app  # noqa: E402
from absl import flags  # noqa: E402

FLAGS = flags.FLAGS


def define_flags():
  """Defined on demand, so that benchmarks/invert.py can import the helpers here."""
  flags.DEFINE_enum('preset', 'paper', ['paper', 'small'], 'Model size when no --workdir.')
  flags.DEFINE_string('workdir', None, 'A trained workdir (default: an untrained model).')
  flags.DEFINE_list('sizes', ['128'], 'Square sizes to render.')
  flags.DEFINE_integer('frames', 25, 'Frames per video.')
  flags.DEFINE_integer('chunk_pixels', None, 'Pixels per INR pass (default: render\'s).')
  flags.DEFINE_integer('repeats', 3, 'Timed renders per size (the best is reported).')

def peak_rss_mb() -> float:
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def device_name() -> str:
  import tensorflow as tf
  gpus = tf.config.list_physical_devices('GPU')
  if gpus:
    return tf.config.experimental.get_device_details(gpus[0]).get('device_name', 'GPU')
  return f'CPU ({os.cpu_count()} cores)'


def load_model(workdir, preset):
  """(model, description) from a workdir, or an untrained model of a preset."""
  from inrv_tf import checkpoint, config as config_lib, model as model_lib
  if workdir:
    return checkpoint.load_model(workdir)[1], f'workdir {workdir}'
  config = config_lib.preset(preset).replace(model={'num_videos': 1})
  return model_lib.build_model(config.model, seed=0), f'untrained {preset}'


def main(argv):
  del argv
  import tensorflow as tf
  from inrv_tf import render
  model, source = load_model(FLAGS.workdir, FLAGS.preset)
  chunk = FLAGS.chunk_pixels or render.DEFAULT_CHUNK_PIXELS
  code = model.latents.codes[:1]
  for size in map(int, FLAGS.sizes):
    render.render_video(model, code, FLAGS.frames, size, size, chunk).numpy()  # Warm-up.
    times = []
    for _ in range(FLAGS.repeats):
      start = time.perf_counter()
      render.render_video(model, code, FLAGS.frames, size, size, chunk).numpy()
      times.append(time.perf_counter() - start)
    print(json.dumps({
        'benchmark': 'render', 'model': source, 'preset': FLAGS.preset,
        'frames': FLAGS.frames, 'height': size, 'width': size, 'chunk_pixels': chunk,
        'seconds_per_frame': round(min(times) / FLAGS.frames, 5),
        'seconds_per_video': round(min(times), 4),
        'peak_rss_mb': round(peak_rss_mb(), 1), 'device': device_name(),
        'tensorflow': tf.__version__}), flush=True)


if __name__ == '__main__':
  define_flags()
  app.run(main)
