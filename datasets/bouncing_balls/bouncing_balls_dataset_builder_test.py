"""Tests for the bouncing_balls builder: counts, shapes, ids, motion, seeds."""

import tempfile

import numpy as np
import pytest
import tensorflow_datasets as tfds

from bouncing_balls import bouncing_balls_dataset_builder as bb


class BouncingBallsTest(tfds.testing.DatasetBuilderTestCase):
  """Builds the `small` config (64 videos) and checks every example."""

  DATASET_CLASS = bb.Builder
  BUILDER_CONFIG_NAMES_TO_TEST = ['small']  # `large` takes minutes.
  SPLITS = {'train': 64}

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    # Nothing is downloaded, but the test case wants a dummy_data folder.
    cls._dummy = tempfile.TemporaryDirectory()
    cls.EXAMPLE_DIR = cls._dummy.name

  @classmethod
  def tearDownClass(cls):
    cls._dummy.cleanup()
    super().tearDownClass()

  def _assertAsDataset(self, builder):
    super()._assertAsDataset(builder)
    examples = list(tfds.as_numpy(builder.as_dataset(split='train')))
    videos = np.stack([ex['video'] for ex in examples])
    self.assertEqual(videos.shape, (64, 25, 64, 64, 3))
    self.assertEqual(videos.dtype, np.uint8)
    np.testing.assert_array_equal(
        [ex['video_id'] for ex in examples], np.arange(64)
    )
    # Stored losslessly (PNG) and in id order: example i is make_video(i).
    for i in (0, 1, 63):
      np.testing.assert_array_equal(
          videos[i], bb.make_video(builder.builder_config, i)
      )
    # Every video moves: its first and last frames differ.
    moved = np.abs(videos[:, 0].astype(int) - videos[:, -1]).max(axis=(1, 2, 3))
    self.assertTrue(np.all(moved > 100), moved)
    # Every frame shows at least one disc (about pi * 4^2 = 50 px at least).
    lit = (videos.max(axis=-1) > 0).sum(axis=(2, 3))  # [N, T]
    self.assertGreaterEqual(lit.min(), 40)


def test_make_video_is_deterministic_per_seed_and_index():
  cfg = bb.BouncingBallsConfig(name='t', num_videos=3, num_frames=4, size=32)
  np.testing.assert_array_equal(bb.make_video(cfg, 2), bb.make_video(cfg, 2))
  assert not np.array_equal(bb.make_video(cfg, 1), bb.make_video(cfg, 2))
  other_seed = bb.BouncingBallsConfig(
      name='t', num_videos=3, num_frames=4, size=32, seed=1
  )
  assert not np.array_equal(bb.make_video(cfg, 2), bb.make_video(other_seed, 2))


def test_two_builds_are_equal(tmp_path):
  cfg = bb.BouncingBallsConfig(name='tiny', num_videos=4, num_frames=5, size=32)
  builds = []
  for run in ('a', 'b'):
    builder = bb.Builder(config=cfg, data_dir=tmp_path / run)
    builder.download_and_prepare()
    ds = tfds.as_numpy(builder.as_dataset(split='train'))
    builds.append([(ex['video_id'], ex['video']) for ex in ds])
  assert [i for i, _ in builds[0]] == [0, 1, 2, 3]
  for (id_a, video_a), (id_b, video_b) in zip(*builds):
    assert id_a == id_b
    assert video_a.shape == (5, 32, 32, 3)
    np.testing.assert_array_equal(video_a, video_b)


def test_discs_stay_inside_and_bounce():
  size, bounces = 64, 0
  for seed in range(100):
    rng = np.random.default_rng([0, seed])
    centers, radii = bb.sample_trajectories(rng, 3, 25, size)
    assert centers.shape == (25, 3, 2) and radii.shape == (3,)
    assert np.all((radii >= size / 16) & (radii <= size / 8))
    r = radii[None, :, None]
    assert np.all(centers >= r - 1e-4) and np.all(centers <= size - r + 1e-4)
    steps = np.diff(centers, axis=0)  # [T-1, B, 2]
    bounces += int(np.sum(steps[1:] * steps[:-1] < 0))
  assert bounces > 50  # Walls are hit often, so the reflection is exercised.


def test_disc_area_is_never_clipped_by_the_frame():
  size = 64
  rng = np.random.default_rng(7)
  centers, radii = bb.sample_trajectories(rng, 1, 25, size)
  white = np.full((1, 3), 255, np.uint8)
  video = bb.render_video(centers, radii, white, size)
  # Coverage summed over the frame is the disc's area in every frame, also
  # when it touches a wall: nothing of it falls outside.
  area = video[..., 0].astype(np.float64).sum(axis=(1, 2)) / 255
  np.testing.assert_allclose(area, np.pi * radii[0] ** 2, rtol=0.03)


def test_render_antialiased_edge():
  video = bb.render_video(
      np.array([[[8.5, 8.5]]], np.float32),
      np.array([4.0], np.float32),
      np.array([[200, 100, 0]], np.uint8),
      16,
  )
  assert video.shape == (1, 16, 16, 3)
  np.testing.assert_array_equal(video[0, 8, 8], [200, 100, 0])  # Inside.
  np.testing.assert_array_equal(video[0, 0, 0], [0, 0, 0])  # Outside.
  # Pixel (8, 12) has its centre on the edge, 4 px away: half covered.
  np.testing.assert_array_equal(video[0, 8, 12], [100, 50, 0])


@pytest.mark.parametrize(
    'kwargs',
    [
        dict(num_videos=0),
        dict(num_frames=0),
        dict(size=8),
        dict(min_balls=0),
        dict(min_balls=3, max_balls=2),
        dict(seed=-1),
    ],
)
def test_config_rejects_bad_values(kwargs):
  with pytest.raises(ValueError):
    bb.BouncingBallsConfig(name='bad', **kwargs)


def test_configs():
  configs = {c.name: c for c in bb.Builder.BUILDER_CONFIGS}
  assert (configs['small'].num_videos, configs['small'].size) == (64, 64)
  assert (configs['large'].num_videos, configs['large'].size) == (2000, 128)
  assert bb.Builder.DEFAULT_BUILDER_CONFIG_NAME == 'small'
