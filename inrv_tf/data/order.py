"""The order training sees its videos in: seeded, a pure function of the step.

    ids = stage_videos(total=35_000, size=100, subset_seed=0)   # stage 1's 100 videos
    ds = index_batches(ids, global_batch=2, seed=0, stage=1, start_step=k)

Progressive stage i trains on a seeded random subset of min(10^i, N) videos,
nested (stage i's videos are among stage i + 1's), as the release's file lists
are random permutations; ids on disk stay in source order. Within a stage,
every epoch is a fresh uniform permutation of the stage's videos, drawn from
(seed, stage, epoch) alone, so the whole order is the same on every machine
and a run resumed at step k sees exactly the batches an unbroken run sees
from step k on. Global batch k holds positions k*B .. k*B + B - 1 of that
endless stream; batches run on across epoch boundaries.

Several replicas or workers split each global batch by position
(`index_batches(..., input_context=ctx)`): the union of their shares is the
global batch, so no video is seen twice per epoch and a mirrored or
multi-worker epoch equals a single-device one.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def stage_videos(total: int, size: int, subset_seed: int) -> np.ndarray:
  """The video ids of a stage of `size` videos out of `total`: int64[size], sorted.

  The first `size` entries of one seeded permutation of all ids, so every
  stage's videos are among the next, larger stage's.
  """
  if not 1 <= size <= total:
    raise ValueError(f'A stage holds 1..{total} videos, not {size}.')
  order = np.random.default_rng([subset_seed, total]).permutation(total)
  return np.sort(order[:size]).astype(np.int64)


def epoch_order(ids, seed: int, stage: int, epoch: int) -> tf.Tensor:
  """`ids` in the permutation of (seed, stage, epoch): int64[len(ids)] (graph-safe).

  A stateless shuffle: the same seed gives the same order in every process.
  """
  key = tf.stack([tf.cast(seed, tf.int64),
                  tf.cast(stage, tf.int64) * 2**32 + tf.cast(epoch, tf.int64)])
  return tf.random.experimental.stateless_shuffle(tf.constant(ids, tf.int64), key)


def index_stream(ids, seed: int, stage: int, start: int = 0) -> tf.data.Dataset:
  """The endless stream of video ids, epoch after epoch, from position `start`.

  Returns:
    tf.data of int64 scalars: epoch_order(e = 0), epoch_order(e = 1), ..., skipping
    the first `start` elements (at no cost beyond the epoch it falls in).
  """
  ids = np.asarray(ids, np.int64)
  first_epoch, offset = divmod(int(start), len(ids))
  epochs = tf.data.Dataset.range(first_epoch, np.iinfo(np.int64).max)
  stream = epochs.flat_map(
      lambda e: tf.data.Dataset.from_tensor_slices(epoch_order(ids, seed, stage, e)))
  return stream.skip(offset)


def index_batches(ids, global_batch: int, seed: int, stage: int, start_step: int = 0,
                  input_context: tf.distribute.InputContext | None = None
                  ) -> tf.data.Dataset:
  """Per-replica batches of video ids, in training order, from step `start_step`.

  Args:
    ids: the stage's video ids.
    global_batch: videos per step over all replicas.
    input_context: with tf.distribute, this input pipeline's place: it serves
      its replicas' consecutive shares of every global batch.
  Returns:
    tf.data of int64[b], b = the per-replica batch: one element per local
    replica per step (all of the global batch without `input_context`).
  """
  stream = index_stream(ids, seed, stage, start_step * global_batch)
  if input_context is None:
    return stream.batch(global_batch, drop_remainder=True)
  per_replica = input_context.get_per_replica_batch_size(global_batch)
  local = per_replica * (input_context.num_replicas_in_sync
                         // input_context.num_input_pipelines)
  first = input_context.input_pipeline_id * local
  share = stream.batch(global_batch, drop_remainder=True).map(
      lambda batch: batch[first:first + local])
  return share.unbatch().batch(per_replica, drop_remainder=True)
