"""Cost of the Video-CLIP branch per training step (with the embedding cache).

    python benchmarks/clip_branch.py                       # small preset, batch 2
    python benchmarks/clip_branch.py --preset=paper --frames=25 --size=100 --steps=3

With the cache, the branch adds to a step: the GRU and merge network's forward
and backward (the frame embeddings arrive in the batch; CLIP never runs), and
on the host the cache lookup of the batch's rows (`ShardedEmbeddings[ids]`,
in the input pipeline, overlapped with the step by prefetch). Both training
steps are built in one process and timed alternately, step for step, so that
load from other processes on the machine hits both alike. One JSON line each:
the step without the branch, the step with it, the overhead, the branch alone
(GRU + merge forward and backward, timed by itself: the overhead without the
noise of the INR's much larger step), and the lookup. --nosteps_too skips the two
whole steps (for the paper size, where they take minutes on a CPU).
"""

from __future__ import annotations

import dataclasses
import json
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app  # noqa: E402
from inrv_tf.config import PRESETS  # noqa: E402
from absl import flags  # noqa: E402

flags.DEFINE_enum('preset', 'small', list(PRESETS), 'Preset.')
flags.DEFINE_integer('frames', None, 'Frames (default: the preset\'s).')
flags.DEFINE_integer('size', None, 'Square size (default: the preset\'s).')
flags.DEFINE_integer('batch_size', None, 'Videos per step (default: the preset\'s).')
flags.DEFINE_integer('steps', 20, 'Timed steps of each variant.')
flags.DEFINE_integer('warmup', 3, 'Untimed steps first (tracing).')
flags.DEFINE_integer('cache_videos', 1000, 'Videos in the synthetic on-disk cache.')
flags.DEFINE_bool('steps_too', True, 'Also time whole training steps with and without.')
FLAGS = flags.FLAGS


def make_step(config, clip: bool):
  """A train step of `config` with or without the branch, and its batch."""
  import tensorflow as tf
  from inrv_tf.train import step as step_lib
  b, d = config.train.batch_size, config.data
  # The step reads frame embeddings from the batch (random here): no encoder is
  # loaded, but a CLIP config must name one.
  config = config.replace(model={'num_videos': b, 'clip': clip},
                          data={'clip_weights': 'random-embeddings' if clip else None})
  strategy = tf.distribute.get_strategy()
  state = step_lib.create_state(config, strategy)
  features = tf.Variable(state.model.encoded_grid(d.frames, d.height, d.width),
                         trainable=False)
  step = step_lib.make_train_step(state, config, strategy, features)
  batch = {'video': tf.random.uniform([b, d.frames, d.height, d.width, 3], -1, 1, seed=0),
           'video_id': tf.range(b, dtype=tf.int32)}
  if clip:
    width = config.model.resolved_clip_embedding_dim
    batch['frame_embeddings'] = tf.random.normal([b, d.frames, width], seed=1)
  return step, batch


def time_steps(steps: dict, batches: dict, count: int, warmup: int) -> dict:
  """Median seconds per step of each variant, timed alternately."""
  times = {name: [] for name in steps}
  for i in range(warmup + count):
    for name, step in steps.items():
      start = time.perf_counter()
      step(batches[name])['loss'].numpy()
      if i >= warmup:
        times[name].append(time.perf_counter() - start)
  return {name: statistics.median(t) for name, t in times.items()}


def branch_seconds(config, count: int, warmup: int) -> float:
  """Median seconds of the branch alone: m = merge(GRU(embeddings), c), forward
  and backward to the GRU, merge and code variables, at training batch size."""
  import tensorflow as tf
  from inrv_tf.model import inrv as model_lib
  b, d = config.train.batch_size, config.data
  model_config = dataclasses.replace(config.model, num_videos=b, clip=True)
  model = model_lib.build_model(model_config, seed=0)
  variables = model.clip_variables + model.latent_variables
  embeddings = tf.random.normal([b, d.frames, config.model.resolved_clip_embedding_dim])
  ids = tf.range(b)

  @tf.function
  def branch():
    with tf.GradientTape() as tape:
      m = model.latent(ids, embeddings, training=True)
      loss = tf.reduce_sum(tf.square(m))
    return tf.add_n([tf.reduce_sum(tf.convert_to_tensor(g))
                     for g in tape.gradient(loss, variables)])

  return time_steps({'branch': lambda _: {'loss': branch()}}, {'branch': None},
                    count, warmup)['branch']


def lookup_seconds(config, num_videos: int, reps: int = 200) -> float:
  """Median seconds of one batch's cache lookup from memory-mapped shards."""
  import numpy as np
  from inrv_tf.data import clip_cache
  d, b = config.data, config.train.batch_size
  width = config.model.resolved_clip_embedding_dim
  with tempfile.TemporaryDirectory() as tmp:
    shards = []
    for start, stop in clip_cache.shard_ranges(num_videos, clip_cache.SHARD_VIDEOS):
      path = os.path.join(tmp, f'{start}.npy')
      np.save(path, np.random.rand(stop - start, d.frames, width).astype(np.float32))
      shards.append(np.load(path, mmap_mode='r'))
    cache = clip_cache.ShardedEmbeddings(shards, clip_cache.SHARD_VIDEOS)
    rng = np.random.default_rng(0)
    times = []
    for _ in range(reps):
      ids = rng.integers(0, num_videos, b).astype(np.int32)
      start = time.perf_counter()
      np.asarray(cache[ids], np.float32)
      times.append(time.perf_counter() - start)
  return statistics.median(times)


def main(argv):
  del argv
  from inrv_tf import config as config_lib
  config = config_lib.preset(FLAGS.preset)
  data = {k: v for k, v in (('frames', FLAGS.frames), ('height', FLAGS.size),
                            ('width', FLAGS.size)) if v}
  train = {'batch_size': FLAGS.batch_size} if FLAGS.batch_size else {}
  config = config.replace(data=data, train=train)
  d, m = config.data, config.model
  common = {'benchmark': 'clip_branch', 'preset': FLAGS.preset, 'frames': d.frames,
            'height': d.height, 'width': d.width, 'batch_size': config.train.batch_size,
            'gru': f'{m.gru_layers} x bi-GRU {m.gru_units}',
            'embedding_dim': m.resolved_clip_embedding_dim}
  branch = branch_seconds(config, 5 * FLAGS.steps, FLAGS.warmup)
  if FLAGS.steps_too:
    variants = {'without': make_step(config, clip=False),
                'with': make_step(config, clip=True)}
    seconds = time_steps({k: v[0] for k, v in variants.items()},
                         {k: v[1] for k, v in variants.items()}, FLAGS.steps, FLAGS.warmup)
    for name in ('without', 'with'):
      print(json.dumps({**common, 'clip': name == 'with', 'step_median_s': seconds[name]}),
            flush=True)
    extra = seconds['with'] - seconds['without']
    print(json.dumps({**common, 'overhead_s': extra,
                      'overhead_pct': 100 * extra / seconds['without'],
                      'branch_alone_pct': 100 * branch / seconds['without']}), flush=True)
  print(json.dumps({**common, 'branch_alone_s': branch}), flush=True)
  print(json.dumps({**common, 'cache_lookup_s': lookup_seconds(config, FLAGS.cache_videos),
                    'cache_videos': FLAGS.cache_videos}), flush=True)


if __name__ == '__main__':
  app.run(main)
