"""moving_mnist: two MNIST digits bouncing in a 64 x 64 frame, 20 frames.

Each example is `video`: uint8[20, 64, 64, 1] in [0, 255] (white digits on black;
one channel, the training pipeline tiles it to RGB) and `video_id`: int64, the
example's index.

Configs:
  standard (default): the paper's data, Srivastava et al.'s `mnist_test_seq.npy`
    (10,000 sequences, 819,200,096 bytes), as TFDS's own `moving_mnist` builder
    downloads it. The array is uint8[20, 10000, 64, 64], time first; it is read
    memory-mapped, and example i is `arr[:, i]` with a channel axis added.
  generated: new sequences made from the 60,000 MNIST training digits (the
    `train-images-idx3-ubyte.gz` file TFDS's `mnist` downloads). Sequence i draws
    from `np.random.default_rng([seed, i])`: `num_digits` random digits (28 x 28),
    each with a uniform start position and a velocity of `speed` (a fraction of
    the 36 pixels a digit can travel) in a uniform direction, reflected at the
    walls; digits combine by pixel-wise maximum. The motion is the one of
    `tfds.video.moving_sequence.image_as_moving_sequence`, redone in numpy so
    that it is seeded and fast.

The class is not registered under its name: TFDS ships a registered
`moving_mnist` of its own (feature `image_sequence`, split `test`), and two
registered builders of one name fail at import. `tfds build` does not need the
registration; load the prepared data with
`tfds.builder_from_directory('<data_dir>/moving_mnist/standard/1.0.0')`.

  tfds build datasets/moving_mnist --config=standard
"""

import dataclasses
import gzip
import struct

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

SEQUENCES_URL = (
    'http://www.cs.toronto.edu/~nitish/unsupervised_video/mnist_test_seq.npy'
)
MNIST_URL = (
    'https://storage.googleapis.com/cvdf-datasets/mnist/'
    'train-images-idx3-ubyte.gz'
)
NUM_FRAMES = 20
SIZE = 64
_SOURCES = ('standard', 'generated')


@dataclasses.dataclass(eq=False)
class MovingMnistConfig(tfds.core.BuilderConfig):
  """Where the sequences come from.

  Attributes:
    source: 'standard' (the published 10,000 sequences) or 'generated'.
    num_sequences: number of sequences to generate ('generated' only).
    num_digits: digits per generated sequence.
    speed: distance a digit moves per frame, as a fraction of the distance it
      can travel (64 - 28 = 36 pixels): 0.1 is 3.6 pixels per frame.
    seed: base seed; generated sequence i uses `default_rng([seed, i])`.
  """

  source: str = 'standard'
  num_sequences: int = 10_000
  num_digits: int = 2
  speed: float = 0.1
  seed: int = 0

  def __post_init__(self):
    if self.source not in _SOURCES:
      raise ValueError(f'source must be one of {_SOURCES}, got {self.source!r}')
    if self.num_sequences < 1:
      raise ValueError(f'num_sequences must be >= 1, got {self.num_sequences}')
    if self.num_digits < 1:
      raise ValueError(f'num_digits must be >= 1, got {self.num_digits}')
    if not 0.0 < self.speed <= 1.0:
      raise ValueError(f'speed must be in (0, 1], got {self.speed}')
    if self.seed < 0:
      raise ValueError(f'seed must be >= 0, got {self.seed}')


def load_sequences(path) -> np.ndarray:
  """Memory-maps `mnist_test_seq.npy`: uint8[20, N, 64, 64], time first."""
  try:
    # What np.load(path, mmap_mode='r') does; called directly because TFDS's
    # test harness wraps np.load to accept file objects only.
    arr = np.lib.format.open_memmap(str(path), mode='r')
  except (OSError, ValueError) as e:
    raise ValueError(f'Cannot read {path} as a .npy array: {e}') from e
  if arr.dtype != np.uint8 or arr.ndim != 4 or (
      arr.shape[0], arr.shape[2], arr.shape[3]) != (NUM_FRAMES, SIZE, SIZE):
    raise ValueError(
        f'{path}: expected uint8[{NUM_FRAMES}, N, {SIZE}, {SIZE}],'
        f' got {arr.dtype}{list(arr.shape)}'
    )
  return arr


def load_digits(path) -> np.ndarray:
  """Reads a gzipped MNIST idx image file: uint8[N, 28, 28] in [0, 255]."""
  with tf.io.gfile.GFile(str(path), 'rb') as f, gzip.GzipFile(fileobj=f) as gz:
    data = gz.read()
  magic, count, rows, cols = struct.unpack('>IIII', data[:16])
  if magic != 2051 or len(data) != 16 + count * rows * cols:
    raise ValueError(
        f'{path} is not a complete MNIST image file (magic {magic}, {count}'
        f' images of {rows} x {cols}, {len(data)} bytes)'
    )
  return np.frombuffer(data, np.uint8, offset=16).reshape(count, rows, cols)


def bounce_trajectory(
    start: np.ndarray, velocity: np.ndarray, num_frames: int
) -> np.ndarray:
  """Straight motion reflected into [0, 1], as tfds.video.moving_sequence.

  Args:
    start: f32[2] position in [0, 1].
    velocity: f32[2] displacement per frame.
    num_frames: T.

  Returns:
    f32[T, 2] positions in [0, 1].
  """
  t = np.arange(num_frames, dtype=np.float32)[:, None]  # [T, 1]
  unbounded = (start[None] + velocity[None] * t) % 2
  return np.minimum(2 - unbounded, unbounded)


def make_sequence(
    digits: np.ndarray, config: MovingMnistConfig, index: int
) -> np.ndarray:
  """Returns generated sequence `index`: uint8[20, 64, 64, 1] in [0, 255]."""
  rng = np.random.default_rng([config.seed, index])
  frames = np.zeros((NUM_FRAMES, SIZE, SIZE), np.uint8)
  for _ in range(config.num_digits):
    digit = digits[rng.integers(len(digits))]
    h, w = digit.shape
    start = rng.uniform(0.0, 1.0, 2).astype(np.float32)
    direction = rng.normal(size=2)
    velocity = (config.speed * direction / np.linalg.norm(direction)).astype(
        np.float32
    )
    room = np.array([SIZE - h, SIZE - w], np.float32)
    corners = np.round(bounce_trajectory(start, velocity, NUM_FRAMES) * room)
    for t, (y, x) in enumerate(corners.astype(int)):
      patch = frames[t, y : y + h, x : x + w]
      np.maximum(patch, digit, out=patch)
  return frames[..., None]


class Builder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
  """DatasetBuilder for moving_mnist (see the module docstring)."""

  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': 'Initial release.'}
  BUILDER_CONFIGS = [
      MovingMnistConfig(
          name='standard',
          description="The published 10,000 sequences (the paper's data).",
          source='standard',
      ),
      MovingMnistConfig(
          name='generated',
          description='10,000 new seeded sequences from MNIST training digits.',
          source='generated',
          num_sequences=10_000,
      ),
  ]
  DEFAULT_BUILDER_CONFIG_NAME = 'standard'

  def _info(self) -> tfds.core.DatasetInfo:
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict({
            'video': tfds.features.Video(
                shape=(NUM_FRAMES, SIZE, SIZE, 1), dtype=np.uint8
            ),
            'video_id': np.int64,
        }),
        homepage='http://www.cs.toronto.edu/~nitish/unsupervised_video/',
        # Keep the id order on disk, so that `train[:n]` is videos 0..n-1.
        disable_shuffling=True,
    )

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    standard = self.builder_config.source == 'standard'
    path = dl_manager.download(SEQUENCES_URL if standard else MNIST_URL)
    return {'train': self._generate_examples(path)}

  def _generate_examples(self, path):
    if self.builder_config.source == 'standard':
      sequences = load_sequences(path)
      for i in range(sequences.shape[1]):
        video = np.ascontiguousarray(sequences[:, i, :, :, None])
        yield i, {'video': video, 'video_id': i}
    else:
      digits = load_digits(path)
      for i in range(self.builder_config.num_sequences):
        video = make_sequence(digits, self.builder_config, i)
        yield i, {'video': video, 'video_id': i}
