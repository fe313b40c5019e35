import numpy as np
import pytest
import tensorflow as tf

from inrv_tf import config as config_lib
from inrv_tf.data import batches
from inrv_tf.data import pipeline
from inrv_tf.data import video_store


def _run_both_ways(fn, example):
  """Runs a preprocessing fn eagerly and inside tf.data.map (big_vision's tfrun)."""
  eager = fn(example)
  ds = tf.data.Dataset.from_tensors(example).map(fn)
  return eager, next(iter(ds))


def test_preprocess_eager_and_in_tf_data():
  rng = np.random.default_rng(0)
  example = {'video': rng.integers(0, 256, size=(6, 20, 24, 3), dtype=np.uint8),
             'video_id': np.int64(4)}
  eager, mapped = _run_both_ways(lambda ex: pipeline.preprocess(ex, 4, 10, 12), example)
  for out in (eager, mapped):
    assert out['video'].shape == (4, 10, 12, 3) and out['video'].dtype == tf.uint8
    assert out['video_id'].dtype == tf.int32 and int(out['video_id']) == 4
  np.testing.assert_array_equal(eager['video'].numpy(), mapped['video'].numpy())
  # Area resize by 2: each output pixel is the mean of a 2 x 2 block.
  block = example['video'][0, :2, :2].astype(np.float64).mean(axis=(0, 1))
  np.testing.assert_allclose(eager['video'].numpy()[0, 0, 0], np.round(block), atol=1)


def test_one_channel_served_as_rgb():
  video = np.arange(2 * 4 * 4, dtype=np.uint8).reshape(2, 4, 4, 1)
  out = pipeline.resize_video(video, 2, 4, 4).numpy()
  assert out.shape == (2, 4, 4, 3)
  np.testing.assert_array_equal(out[..., 0], out[..., 2])


def test_float_range():
  u8 = tf.constant([0, 128, 255], tf.uint8)
  np.testing.assert_allclose(pipeline.to_float(u8).numpy(), [-1.0, 128 / 127.5 - 1, 1.0], atol=1e-7)
  np.testing.assert_array_equal(pipeline.to_uint8(pipeline.to_float(u8)).numpy(), [0, 128, 255])
  np.testing.assert_array_equal(pipeline.to_uint8(tf.constant([-3.0, 3.0])).numpy(), [0, 255])


def test_unknown_dataset_names_known_ones():
  with pytest.raises(pipeline.DataError, match='Unknown dataset .nope.*bouncing_balls'):
    pipeline.get_builder('nope')


def test_dataset_names_may_carry_a_builder_config(tfds_dir):
  folder = pipeline.datasets_dir() / 'bouncing_balls'
  assert pipeline.split_dataset('bouncing_balls') == (folder, None)
  assert pipeline.split_dataset('bouncing_balls/large') == (folder, 'large')
  assert pipeline.split_dataset(f'{folder}/large') == (folder.resolve(), 'large')
  builder = pipeline.get_builder('bouncing_balls/small', tfds_dir)
  assert (builder.builder_config.name, pipeline.num_examples(builder)) == ('small', 64)
  with pytest.raises(pipeline.DataError, match="no config 'nope'"):
    pipeline.get_builder('bouncing_balls/nope', tfds_dir)
  with pytest.raises(pipeline.DataError, match='Unknown dataset .nope/small'):
    pipeline.get_builder('nope/small')


def test_dataset_batches_and_errors(tfds_dir):
  builder = pipeline.get_builder('bouncing_balls', tfds_dir)
  cfg = config_lib.DataConfig(frames=5, height=16, width=16, data_dir=tfds_dir)
  batch = next(iter(batches.make_dataset(builder, cfg, num_videos=4, batch_size=3, seed=0)))
  assert batch['video'].shape == (3, 5, 16, 16, 3)
  assert float(tf.reduce_min(batch['video'])) >= -1 and float(tf.reduce_max(batch['video'])) <= 1
  assert set(batch['video_id'].numpy()) <= {0, 1, 2, 3}
  with pytest.raises(pipeline.DataError, match='cannot give frames=26'):
    batches.make_dataset(builder, cfg.__class__(frames=26), 4, 2, 0)
  with pytest.raises(pipeline.DataError, match='has 64 videos; 65'):
    batches.make_dataset(builder, cfg, 65, 2, 0)


def test_order_is_a_function_of_seed_and_resumes(tfds_dir):
  builder = pipeline.get_builder('bouncing_balls', tfds_dir)
  cfg = config_lib.DataConfig(frames=2, height=8, width=8)
  ids = lambda start, n: [int(i) for b in batches.make_dataset(
      builder, cfg, 6, 2, seed=3, start_step=start).take(n) for i in b['video_id']]
  full = ids(0, 7)
  assert sorted(full[:6]) == list(range(6))      # one epoch sees every video once
  assert ids(4, 3) == full[8:]                    # a resume at step 4 continues exactly
  assert ids(0, 7) == full                        # same seed, same order


def test_store_reads_the_same_videos_from_memory_and_from_disk(tfds_dir):
  """A tiny cache limit reads by random access (ArrayRecord, converted once)."""
  builder = pipeline.get_builder('bouncing_balls', tfds_dir)
  cfg = config_lib.DataConfig(frames=3, height=8, width=8, data_dir=tfds_dir)
  logs = []
  on_disk = video_store.VideoStore(builder, cfg, 12, cache_bytes=0, log=logs.append)
  in_memory = video_store.VideoStore(builder, cfg, 12)
  assert in_memory.in_memory and not on_disk.in_memory
  ids = tf.data.Dataset.from_tensors(tf.constant([7, 0, 11], tf.int64))
  a, b = (next(iter(store.read(ids))) for store in (on_disk, in_memory))
  np.testing.assert_array_equal(a['video'].numpy(), b['video'].numpy())
  np.testing.assert_array_equal(a['video_id'].numpy(), [7, 0, 11])
  assert a['video'].shape == (3, 3, 8, 8, 3) and a['video'].dtype == tf.uint8
  expected = next(iter(pipeline.load_videos(builder, cfg, 8, start=7)))['video']
  np.testing.assert_array_equal(a['video'].numpy()[0], expected.numpy())


def test_uncached_epochs_are_permutations_and_resume_exactly(tfds_dir):
  builder = pipeline.get_builder('bouncing_balls', tfds_dir)
  cfg = config_lib.DataConfig(frames=2, height=8, width=8, data_dir=tfds_dir)
  store = video_store.VideoStore(builder, cfg, 64, cache_bytes=0, log=lambda _: None)
  stage_ids = [5, 9, 17, 33, 60, 61]

  def ids(start, n, seed=3):
    ds = batches.make_dataset(builder, cfg, 64, 2, seed=seed, start_step=start,
                              stage_ids=stage_ids, stage=1, store=store)
    return [int(i) for b in ds.take(n) for i in b['video_id']]

  full = ids(0, 9)
  epochs = [full[:6], full[6:12], full[12:]]
  assert all(sorted(e) == stage_ids for e in epochs)       # every epoch: each video once
  assert epochs[0] != epochs[1] != epochs[2]
  assert ids(0, 9) == full                                  # same seed, same order
  assert ids(4, 5) == full[8:]                              # a resume continues exactly
  assert ids(0, 3, seed=4) != full[:6]
