"""The input pipeline alone: how fast tf.data delivers training batches.

    python benchmarks/input_pipeline.py                        # bouncing_balls, 25 x 64 x 64, batch 2
    python benchmarks/input_pipeline.py --dataset=moving_mnist --size=64 --frames=20

Iterates `pipeline.make_dataset` (the training pipeline: decode, resize, cache,
shuffle, batch, prefetch) without the model, after one pass that fills the
cache, and prints one JSON line: milliseconds per batch and batches per
second. Set beside `train_step.py`'s median_s, it says how far the pipeline is
from ever making the model wait; training itself logs the share of time it
waited for input ("input wait").
"""

from __future__ import annotations

import json
import pathlib
import statistics
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

import inrv_tf  # noqa: E402,F401  (before TensorFlow: turns oneDNN on)
from absl import app  # noqa: E402
from absl import flags  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string('dataset', 'bouncing_balls', 'TFDS dataset folder under datasets/.')
flags.DEFINE_string('data_dir', None, 'TFDS data_dir (default: TFDS\'s).')
flags.DEFINE_integer('frames', 25, 'Frames per video.')
flags.DEFINE_integer('size', 64, 'Square size (at most the dataset\'s).')
flags.DEFINE_integer('batch_size', 2, 'Videos per batch.')
flags.DEFINE_integer('num_videos', 64, 'Videos in the pipeline.')
flags.DEFINE_integer('batches', 200, 'Timed batches.')


def main(argv):
  del argv
  from absl import logging
  from inrv_tf import config as config_lib
  from inrv_tf.data import pipeline
  logging.set_verbosity(logging.WARNING)
  builder = pipeline.get_builder(FLAGS.dataset, FLAGS.data_dir)
  config = config_lib.preset('paper').replace(
      data={'dataset': FLAGS.dataset, 'frames': FLAGS.frames, 'height': FLAGS.size,
            'width': FLAGS.size})
  ds = pipeline.make_dataset(builder, config.data, FLAGS.num_videos, FLAGS.batch_size, seed=0)
  batches = iter(ds)
  for _ in range(FLAGS.num_videos // FLAGS.batch_size + 1):   # fills the cache
    next(batches)
  times = []
  for _ in range(FLAGS.batches):
    start = time.perf_counter()
    next(batches)['video'].numpy()
    times.append(time.perf_counter() - start)
  median = statistics.median(times)
  print(json.dumps({
      'benchmark': 'input_pipeline', 'dataset': FLAGS.dataset, 'frames': FLAGS.frames,
      'height': FLAGS.size, 'width': FLAGS.size, 'batch_size': FLAGS.batch_size,
      'num_videos': FLAGS.num_videos, 'median_ms': round(1000 * median, 3),
      'mean_ms': round(1000 * statistics.fmean(times), 3),
      'batches_per_s': round(1 / median, 1)}), flush=True)


if __name__ == '__main__':
  app.run(main)
