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
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import inrv_tf  # noqa: E402,F401  (before TensorFlow: turns oneDNN on)
from inrv_tf.config import PRESETS  # noqa: E402
from absl import app  # noqa: E402
from absl import flags  # noqa: E402
import common  # noqa: E402  (benchmarks/common.py: the matmul ceiling)

FLAGS = flags.FLAGS


def define_flags():
  """Defined on demand, so that benchmarks/invert.py can import the helpers here."""
  flags.DEFINE_enum('preset', 'paper', list(PRESETS), 'Model size when no --workdir.')
  flags.DEFINE_string('workdir', None, 'A trained workdir (default: an untrained model).')
  flags.DEFINE_list('sizes', ['128'], 'Square sizes to render (--frames frames each).')
  flags.DEFINE_list('shapes', [], 'Shapes FRAMESxHEIGHTxWIDTH to render instead of --sizes, '
                    'e.g. 25x128x128,50x360x360.')
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
  from inrv_tf import workdir as workdir_lib
  from inrv_tf import config as config_lib
  from inrv_tf.model import inrv as model_lib
  if workdir:
    return workdir_lib.load_model(workdir)[1], f'workdir {workdir}'
  config = config_lib.preset(preset).replace(model={'num_videos': 1})
  return model_lib.build_model(config.model, seed=0), f'untrained {preset}'


def main(argv):
  del argv
  import tensorflow as tf
  from inrv_tf import config as config_lib
  from inrv_tf.model import render
  model, source = load_model(FLAGS.workdir, FLAGS.preset)
  chunk = FLAGS.chunk_pixels or config_lib.CHUNK_PIXELS
  code = model.latents.codes[:1]
  from inrv_tf.train import distribute
  macs = model.spec.macs_per_pixel
  shapes = ([tuple(map(int, s.split('x'))) for s in FLAGS.shapes] if FLAGS.shapes
            else [(FLAGS.frames, int(s), int(s)) for s in FLAGS.sizes])
  for frames, height, width in shapes:
    render.render_array(model, code, frames, height, width, chunk)  # Warm-up.
    times = []
    for _ in range(FLAGS.repeats):
      start = time.perf_counter()
      render.render_array(model, code, frames, height, width, chunk)
      times.append(time.perf_counter() - start)
    best = min(times)
    gflop = 2 * frames * height * width * macs / 1e9
    print(json.dumps({
        'benchmark': 'render', 'model': source, 'preset': FLAGS.preset,
        'frames': frames, 'height': height, 'width': width, 'chunk_pixels': chunk,
        'median_s': round(sorted(times)[len(times) // 2], 4),
        'seconds_per_video': round(best, 4), 'seconds_per_frame': round(best / frames, 5),
        'pixels_per_s': round(frames * height * width / best), 'gflops': round(gflop, 2),
        'gflops_per_s': round(gflop / best, 1), 'peak_rss_mib': round(peak_rss_mb(), 1),
        'onednn': distribute.onednn_enabled(), 'device': device_name(),
        'tensorflow': tf.__version__}), flush=True)
  print(json.dumps(common.matmul_ceiling('float32')), flush=True)


if __name__ == '__main__':
  define_flags()
  app.run(main)
