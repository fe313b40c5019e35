"""Training batches: the training order over a stage's videos, read from the store.

    store = video_store.VideoStore(builder, config.data, num_videos)
    ds = make_dataset(builder, config.data, n, batch_size=2, seed=0, stage_ids=ids,
                      stage=1, start_step=k, store=store)
    batch = next(iter(ds))   # {'video': f32[2, T, H, W, 3] in [-1, 1], 'video_id': i32[2]}
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from inrv_tf import config as config_lib
from inrv_tf.data import order
from inrv_tf.data import pipeline
from inrv_tf.data import video_store


def make_dataset(builder, data: config_lib.DataConfig, num_videos: int,
                 batch_size: int, seed: int, start_step: int = 0,
                 input_context: tf.distribute.InputContext | None = None,
                 frame_embeddings=None, stage_ids=None, stage: int = 0,
                 store=None) -> tf.data.Dataset:
  """Endless batches of a stage's videos, in the training order (`data.order`).

  Every epoch is a seeded permutation of the stage's videos, so the batches
  are a function of (seed, stage, step) alone: a run resumed at `start_step`
  sees exactly the batches an unbroken run would, whether the videos come from
  memory or from disk.

  Args:
    num_videos: the stage's videos are ids 0..num_videos - 1, unless `stage_ids`
      names them.
    batch_size: the global batch; with `input_context` each input pipeline
      yields its replicas' consecutive shares of every global batch.
    frame_embeddings: with Video-CLIP, the videos' cached CLIP frame embeddings,
      f32[N, T, D] indexable by an int array of video ids (a NumPy array or
      `clip_cache.ShardedEmbeddings`); each batch then also carries them.
    store: a `video_store.VideoStore` of the run's videos (one is made for
      ids 0..num_videos - 1 when None).
  Returns:
    dataset of {'video': f32[b, T, H, W, 3] in [-1, 1], 'video_id': i32[b]}
    (+ 'frame_embeddings' f32[b, T, D] when given).
  """
  pipeline.check_size(builder, data.frames, data.height, data.width)
  available = pipeline.num_examples(builder, data.split)
  if num_videos > available:
    raise pipeline.DataError(f'Dataset {builder.name!r} split {data.split!r} has '
                    f'{available} videos; {num_videos} were asked for.')
  ids = np.arange(num_videos) if stage_ids is None else np.asarray(stage_ids)
  store = store or video_store.VideoStore(builder, data, num_videos, log=lambda _: None)
  batches = order.index_batches(ids, batch_size, seed, stage, start_step, input_context)
  ds = store.read(batches).map(lambda b: {**b, 'video': pipeline.to_float(b['video'])},
                               num_parallel_calls=tf.data.AUTOTUNE)
  if frame_embeddings is not None:
    per_batch = batches.element_spec.shape[0]
    ds = ds.map(lambda b: add_frame_embeddings(b, frame_embeddings, per_batch))
  return ds.prefetch(tf.data.AUTOTUNE)


def add_frame_embeddings(batch: dict, frame_embeddings, per_batch: int) -> dict:
  """Joins a batch with its videos' rows of the embedding cache, by video id.

  A host-side lookup (numpy_function), so the cache may be a memory map larger
  than device memory; CLIP itself never runs here.
  """
  shape = (per_batch,) + tuple(frame_embeddings.shape[1:])       # [b, T, D]
  rows = tf.numpy_function(
      lambda ids: np.asarray(frame_embeddings[ids], np.float32), [batch['video_id']],
      tf.float32, stateful=False)
  return {**batch, 'frame_embeddings': tf.ensure_shape(rows, shape)}
