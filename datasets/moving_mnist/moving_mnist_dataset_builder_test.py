"""Tests for the moving_mnist builder, on a small .npy and fake digits."""

import gzip
import pathlib
import struct
import tempfile

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from moving_mnist import moving_mnist_dataset_builder as mm

NUM_SEQUENCES = 5


def write_sequences(path: pathlib.Path) -> np.ndarray:
  """Writes a tiny mnist_test_seq.npy, uint8[20, 5, 64, 64] time first."""
  arr = np.random.default_rng(0).integers(0, 256, (20, NUM_SEQUENCES, 64, 64))
  arr = arr.astype(np.uint8)
  np.save(path, arr)
  return arr


def fake_digits() -> np.ndarray:
  """Four 28 x 28 'digits': a 20 x 12 block of value 60, 120, 180, 240."""
  digits = np.zeros((4, 28, 28), np.uint8)
  for k in range(4):
    digits[k, 4:24, 8:20] = 60 * (k + 1)
  return digits


def write_idx(path: pathlib.Path, images: np.ndarray, magic: int = 2051):
  header = struct.pack('>IIII', magic, *images.shape)
  with gzip.open(path, 'wb') as f:
    f.write(header + images.tobytes())


class _DummyDataMixin:
  """Puts a generated dummy_data folder in place of a committed one."""

  DATASET_CLASS = mm.Builder

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls._dummy = tempfile.TemporaryDirectory()
    cls.EXAMPLE_DIR = cls._dummy.name
    root = pathlib.Path(cls._dummy.name)
    cls.sequences = write_sequences(root / 'mnist_test_seq.npy')
    write_idx(root / 'train-images-idx3-ubyte.gz', fake_digits())

  @classmethod
  def tearDownClass(cls):
    cls._dummy.cleanup()
    super().tearDownClass()

  def _get_dl_download_result(self, url):
    return self.dummy_data / url.rsplit('/', 1)[-1]  # By file name.

  def test_registered(self):
    # Deliberately unregistered: TFDS registers its own `moving_mnist`.
    self.assertEqual(self.builder.name, 'moving_mnist')
    registry = tfds.core.registered._DATASET_REGISTRY  # pylint: disable=protected-access
    self.assertNotIn(mm.Builder, registry.values())


class MovingMnistStandardTest(
    _DummyDataMixin, tfds.testing.DatasetBuilderTestCase
):
  BUILDER_CONFIG_NAMES_TO_TEST = ['standard']
  SPLITS = {'train': NUM_SEQUENCES}

  def _assertAsDataset(self, builder):
    super()._assertAsDataset(builder)
    examples = list(tfds.as_numpy(builder.as_dataset(split='train')))
    np.testing.assert_array_equal(
        [ex['video_id'] for ex in examples], np.arange(NUM_SEQUENCES)
    )
    for i, ex in enumerate(examples):
      self.assertEqual(ex['video'].shape, (20, 64, 64, 1))
      self.assertEqual(ex['video'].dtype, np.uint8)
      # Example i is sequence i of the time-first array, exactly.
      np.testing.assert_array_equal(ex['video'][..., 0], self.sequences[:, i])


class MovingMnistGeneratedTest(
    _DummyDataMixin, tfds.testing.DatasetBuilderTestCase
):
  BUILDER_CONFIG_NAMES_TO_TEST = [
      mm.MovingMnistConfig(
          name='generated_tiny', source='generated', num_sequences=3
      )
  ]
  SPLITS = {'train': 3}

  def _assertAsDataset(self, builder):
    super()._assertAsDataset(builder)
    examples = list(tfds.as_numpy(builder.as_dataset(split='train')))
    self.assertEqual([ex['video_id'] for ex in examples], [0, 1, 2])
    for i, ex in enumerate(examples):
      video = ex['video']
      self.assertEqual(video.shape, (20, 64, 64, 1))
      np.testing.assert_array_equal(
          video, mm.make_sequence(fake_digits(), builder.builder_config, i)
      )
      # Only digit values appear, and each frame holds 1 or 2 whole blocks
      # (240 px each; overlapping blocks show less).
      self.assertTrue(set(np.unique(video)) <= {0, 60, 120, 180, 240})
      lit = (video > 0).sum(axis=(1, 2, 3))
      self.assertTrue(np.all((lit >= 240) & (lit <= 480)), lit)
      self.assertFalse(np.array_equal(video[0], video[-1]))  # It moves.


def test_motion_matches_tfds_moving_sequence():
  from tensorflow_datasets.video import moving_sequence  # pylint: disable=g-import-not-at-top

  digit = fake_digits()[3]
  rng = np.random.default_rng(1)
  for _ in range(5):
    start = rng.uniform(0, 1, 2).astype(np.float32)
    velocity = (rng.normal(size=2) * 0.1).astype(np.float32)
    expected = moving_sequence.image_as_moving_sequence(
        tf.constant(digit[..., None]),
        sequence_length=20,
        output_size=(64, 64),
        velocity=tf.constant(velocity),
        start_position=tf.constant(start),
    ).image_sequence.numpy()[..., 0]
    corners = np.round(mm.bounce_trajectory(start, velocity, 20) * 36)
    ours = np.zeros((20, 64, 64), np.uint8)
    for t, (y, x) in enumerate(corners.astype(int)):
      ours[t, y : y + 28, x : x + 28] = digit
    np.testing.assert_array_equal(ours, expected)


def test_bounce_trajectory_reflects_into_unit_square():
  traj = mm.bounce_trajectory(
      np.array([0.9, 0.05], np.float32), np.array([0.1, -0.1], np.float32), 4
  )
  np.testing.assert_allclose(
      traj, [[0.9, 0.05], [1.0, 0.05], [0.9, 0.15], [0.8, 0.25]], atol=1e-6
  )


def test_load_sequences_rejects_wrong_shape(tmp_path):
  path = tmp_path / 'mnist_test_seq.npy'
  np.save(path, np.zeros((10, 2, 64, 64), np.uint8))
  with pytest.raises(ValueError, match='mnist_test_seq.npy.*uint8\\[10, 2, 64'):
    mm.load_sequences(path)


def test_load_digits_reads_idx_and_rejects_other_files(tmp_path):
  write_idx(tmp_path / 'ok.gz', fake_digits())
  digits = mm.load_digits(tmp_path / 'ok.gz')
  np.testing.assert_array_equal(digits, fake_digits())
  write_idx(tmp_path / 'labels.gz', fake_digits(), magic=2049)
  with pytest.raises(ValueError, match='labels.gz is not a complete MNIST'):
    mm.load_digits(tmp_path / 'labels.gz')


@pytest.mark.parametrize(
    'kwargs',
    [dict(source='other'), dict(num_sequences=0), dict(num_digits=0),
     dict(speed=0.0), dict(speed=1.5), dict(seed=-1)],
)
def test_config_rejects_bad_values(kwargs):
  with pytest.raises(ValueError):
    mm.MovingMnistConfig(name='bad', **kwargs)
