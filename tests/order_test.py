"""The training order: seeded stage subsets, epoch permutations, splits by index."""

import numpy as np
import pytest
import tensorflow as tf

from inrv_tf.data import order


def _take(ds, n):
  return [x.numpy() for x in ds.take(n)]


def test_stage_subsets_are_random_seeded_and_nested():
  sizes = (10, 100, 1000, 3000)
  stages = [order.stage_videos(3000, n, subset_seed=0) for n in sizes]
  for small, large in zip(stages, stages[1:]):
    assert set(small) <= set(large)                       # nested
  assert [len(s) for s in stages] == list(sizes)
  np.testing.assert_array_equal(stages[-1], np.arange(3000))   # the last stage: all
  assert not np.array_equal(stages[0], np.arange(10))           # not the first ids
  assert stages[0].max() > 100                                  # spread over the set
  np.testing.assert_array_equal(order.stage_videos(3000, 10, 0), stages[0])   # seeded
  assert set(order.stage_videos(3000, 10, 1)) != set(stages[0])
  with pytest.raises(ValueError, match='1..3000'):
    order.stage_videos(3000, 3001, 0)


def test_every_epoch_is_a_permutation_and_epochs_differ():
  ids = np.array([3, 8, 11, 20, 21, 40, 41])
  stream = [int(i) for i in _take(order.index_stream(ids, seed=5, stage=1), 3 * len(ids))]
  epochs = [stream[i * len(ids):(i + 1) * len(ids)] for i in range(3)]
  for epoch in epochs:
    assert sorted(epoch) == sorted(ids.tolist())           # each id exactly once
  assert epochs[0] != epochs[1] != epochs[2]
  again = [int(i) for i in _take(order.index_stream(ids, seed=5, stage=1), 3 * len(ids))]
  assert again == stream                                    # same seed, same order
  other = [int(i) for i in _take(order.index_stream(ids, seed=6, stage=1), len(ids))]
  assert other != epochs[0]
  # Starting at position k continues the same stream, across an epoch boundary.
  assert [int(i) for i in _take(order.index_stream(ids, 5, 1, start=9), 6)] == stream[9:15]


def test_batches_resume_at_any_step():
  ids = np.arange(10)
  full = _take(order.index_batches(ids, 3, seed=2, stage=0), 12)
  resumed = _take(order.index_batches(ids, 3, seed=2, stage=0, start_step=7), 5)
  for a, b in zip(full[7:], resumed):
    np.testing.assert_array_equal(a, b)
  assert all(batch.shape == (3,) for batch in full)


@pytest.mark.parametrize('pipelines,replicas', [(1, 2), (2, 2), (2, 4)])
def test_replicas_split_each_global_batch_by_index(pipelines, replicas):
  ids, global_batch, steps = np.arange(24), 8, 6
  whole = _take(order.index_batches(ids, global_batch, seed=1, stage=0), steps)
  per_pipeline = replicas // pipelines
  shares = []
  for p in range(pipelines):
    context = tf.distribute.InputContext(num_input_pipelines=pipelines,
                                         input_pipeline_id=p,
                                         num_replicas_in_sync=replicas)
    shares.append(_take(order.index_batches(ids, global_batch, 1, 0, input_context=context),
                        steps * per_pipeline))
  b = global_batch // replicas
  for step in range(steps):
    # Replica r of pipeline p holds positions (p * R_local + r) * b ... of the global batch.
    got = np.concatenate([shares[p][step * per_pipeline + r] for p in range(pipelines)
                          for r in range(per_pipeline)])
    np.testing.assert_array_equal(got, whole[step])
    assert all(len(shares[p][step * per_pipeline]) == b for p in range(pipelines))
  # Over an epoch (3 steps of 8 of 24 videos) the workers see every video once.
  seen = np.concatenate([x for share in shares for x in share[:3 * per_pipeline]])
  assert sorted(seen.tolist()) == list(range(24))
