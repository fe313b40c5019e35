"""The input pipeline alone: how fast tf.data delivers training batches.

    python benchmarks/input_pipeline.py                                  # 64 cached videos
    python benchmarks/input_pipeline.py --generate=6000 --size=100 --data_dir=/tmp/tfds \
        --num_videos=6000 --batches=300             # larger than the in-memory cache

Iterates the training pipeline (`data.batches.make_dataset`: the seeded order,
the video store, floats, prefetch) without the model and prints one JSON line:
milliseconds per batch, videos per second, and whether the videos came from
memory or by random access from disk (ArrayRecord). `--generate=N` first
builds a bouncing-balls dataset of N videos of 25 x size x size (once; it is
reused). With `--legacy`, the same measurement runs on a checkout of the code
before the random-access pipeline (its `inrv_tf.data.make_dataset`, a
1,024-video shuffle window over id order above the cache), for a comparison in
one run: `--legacy --legacy_root=/path/to/old/checkout`. With `--train_steps=N`
it trains the `paper` preset instead and reports the share of time the steps
waited for input, from the training log.
"""

from __future__ import annotations

import json
import pathlib
import statistics
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from absl import app  # noqa: E402
from absl import flags  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string('dataset', 'bouncing_balls', 'TFDS dataset folder under datasets/.')
flags.DEFINE_string('data_dir', None, 'TFDS data_dir (default: TFDS\'s).')
flags.DEFINE_integer('generate', None, 'Build a bouncing_balls config of this many videos '
                     'at 25 x --size x --size first (named bench_<N>_<size>).')
flags.DEFINE_integer('frames', 25, 'Frames per video.')
flags.DEFINE_integer('size', 64, 'Square size (at most the dataset\'s).')
flags.DEFINE_integer('batch_size', 2, 'Videos per batch.')
flags.DEFINE_integer('num_videos', 64, 'Videos in the pipeline.')
flags.DEFINE_integer('batches', 200, 'Timed batches (after 20 untimed).')
flags.DEFINE_integer('train_steps', None, 'Instead: train the paper preset this many steps on '
                     'the dataset (a fresh workdir in /tmp) and report the training log\'s '
                     'input-wait share (batch 2, all pixels, --size).')
flags.DEFINE_bool('legacy', False, 'Time the code at --legacy_root instead (its make_dataset).')
flags.DEFINE_string('legacy_root', None, 'A checkout of the code before this pipeline.')


def generated_config(count: int, size: int):
  sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / 'datasets'))
  from bouncing_balls import bouncing_balls_dataset_builder as bb
  return bb.BouncingBallsConfig(name=f'bench_{count}_{size}', num_videos=count,
                                num_frames=25, size=size,
                                description=f'{count} videos for benchmarks.')


def main(argv):
  del argv
  if FLAGS.legacy:
    sys.path.insert(0, FLAGS.legacy_root)
  import inrv_tf  # noqa: F401  (before TensorFlow: turns oneDNN on)
  from absl import logging
  logging.set_verbosity(logging.WARNING)
  config = None
  if FLAGS.generate:
    config = generated_config(FLAGS.generate, FLAGS.size)
  if FLAGS.train_steps:
    return train_input_wait(config)
  started = time.perf_counter()
  if FLAGS.legacy:
    from inrv_tf import config as config_lib
    from inrv_tf import data as pipeline
    builder = pipeline.get_builder(FLAGS.dataset, FLAGS.data_dir, config=config)
    data = config_lib.DataConfig(dataset=FLAGS.dataset, frames=FLAGS.frames,
                                 height=FLAGS.size, width=FLAGS.size)
    ds = pipeline.make_dataset(builder, data, FLAGS.num_videos, FLAGS.batch_size, seed=0)
    path = 'legacy'
  else:
    from inrv_tf import config as config_lib
    from inrv_tf.data import batches
    from inrv_tf.data import pipeline
    from inrv_tf.data import video_store
    builder = pipeline.get_builder(FLAGS.dataset, FLAGS.data_dir, config=config)
    data = config_lib.DataConfig(dataset=FLAGS.dataset, frames=FLAGS.frames,
                                 height=FLAGS.size, width=FLAGS.size)
    store = video_store.VideoStore(builder, data, FLAGS.num_videos)
    ds = batches.make_dataset(builder, data, FLAGS.num_videos, FLAGS.batch_size, seed=0,
                              store=store)
    path = 'memory' if store.in_memory else 'random_access'
  batches_iter = iter(ds)
  for _ in range(20):
    next(batches_iter)
  setup_s = time.perf_counter() - started
  times = []
  for _ in range(FLAGS.batches):
    start = time.perf_counter()
    next(batches_iter)['video'].numpy()
    times.append(time.perf_counter() - start)
  median = statistics.median(times)
  print(json.dumps({
      'benchmark': 'input_pipeline', 'path': path, 'dataset': builder.name,
      'config': getattr(builder.builder_config, 'name', None), 'frames': FLAGS.frames,
      'height': FLAGS.size, 'width': FLAGS.size, 'batch_size': FLAGS.batch_size,
      'num_videos': FLAGS.num_videos, 'median_ms': round(1000 * median, 3),
      'mean_ms': round(1000 * statistics.fmean(times), 3),
      'videos_per_s': round(FLAGS.batch_size / statistics.fmean(times), 1),
      'setup_s': round(setup_s, 1)}), flush=True)


def train_input_wait(builder_config) -> None:
  """Trains the paper preset and prints the input-wait share the log reports."""
  import functools
  import tempfile
  from inrv_tf import config as config_lib
  from inrv_tf.data import pipeline
  from inrv_tf.train import loop
  # The run reads the benchmark's builder config (not the dataset's default one).
  pipeline.get_builder = functools.partial(pipeline.get_builder, config=builder_config)
  log_every = max(1, FLAGS.train_steps // 3)
  config = config_lib.paper().replace(
      data={'dataset': FLAGS.dataset, 'data_dir': FLAGS.data_dir, 'frames': FLAGS.frames,
            'height': FLAGS.size, 'width': FLAGS.size, 'num_videos': FLAGS.num_videos},
      train={'steps': FLAGS.train_steps, 'log_every': log_every, 'progressive': False,
             'checkpoint_every': 10 * FLAGS.train_steps, 'summary_videos': 0,
             'final_eval_videos': 2})
  lines = []
  with tempfile.TemporaryDirectory() as workdir:
    loop.run(config, workdir, log=lambda line: (lines.append(line), print(line, flush=True)))
  waits = [float(line.split('input wait ')[1].rstrip('%')) for line in lines
           if line.startswith('step ')]
  print(json.dumps({'benchmark': 'input_wait', 'preset': 'paper', 'dataset': FLAGS.dataset,
                    'num_videos': FLAGS.num_videos, 'size': FLAGS.size,
                    'steps': FLAGS.train_steps, 'input_wait_percent': waits,
                    'random_access': any('ArrayRecord' in line for line in lines)
                    or FLAGS.num_videos * FLAGS.frames * FLAGS.size ** 2 * 3 > 4 * 2**30}),
        flush=True)


if __name__ == '__main__':
  app.run(main)
