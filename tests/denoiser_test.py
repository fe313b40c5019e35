"""The denoising VQ-VAE-2: it sharpens blurred frames; the train/apply command;
--denoise's library call; the export wrapper.

The commands run as subprocesses (TensorFlow takes seconds to import) on a copy
of the session's tiny INR-V workdir (conftest.apps_workdir).
"""

import dataclasses
import json
import os
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from inrv_tf import workdir as workdir_lib
from inrv_tf import config as config_lib
from inrv_tf.data import pipeline
from inrv_tf.denoiser import denoising
from inrv_tf.denoiser import train as denoiser_train
from inrv_tf import files
from inrv_tf.model import render
from inrv_tf.denoiser import vqvae

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TIMEOUT = 300
# Blurring 32 x 32 bouncing-balls frames with a Gaussian of sigma 2.5 px gives an
# L1 of 0.051 (on [-1, 1]) to the sharp frames; 500 steps of the small denoiser
# bring held-out frames to 0.025 (a factor 2.0 on 2 CPU cores, seed 0).
BLUR_SIGMA = 2.5
BLUR_STEPS = 500
L1_FACTOR = 1.5
pytestmark = pytest.mark.large


def gaussian_blur(frames, sigma: float) -> np.ndarray:
  """f32[N, H, W, 3] -> the same, convolved with a Gaussian (mirrored edges)."""
  r = int(np.ceil(3 * sigma))
  k = np.exp(-np.arange(-r, r + 1) ** 2 / (2 * sigma ** 2))
  k /= k.sum()
  kernel = np.repeat(np.outer(k, k)[:, :, None, None], 3, axis=2).astype(np.float32)
  padded = tf.pad(frames, [[0, 0], [r, r], [r, r], [0, 0]], 'SYMMETRIC')
  return tf.nn.depthwise_conv2d(padded, kernel, [1, 1, 1, 1], 'VALID').numpy()


def test_short_training_sharpens_blurred_frames(tfds_dir):
  keras.utils.set_random_seed(0)
  builder = pipeline.get_builder('bouncing_balls', tfds_dir)
  videos = np.concatenate([b['video'].numpy() for b in pipeline.eval_dataset(
      builder, config_lib.small().data, 48, 16)])              # uint8[48, 8, 32, 32, 3]
  sharp = pipeline.to_float(videos).numpy()
  blurred = gaussian_blur(sharp.reshape(-1, 32, 32, 3), BLUR_SIGMA).reshape(sharp.shape)
  train, held_out = slice(0, 40), slice(40, 48)
  c = dataclasses.replace(denoising.small(), lr=2e-3)
  model = denoising.build(c)
  optimizer = keras.optimizers.Adam(c.lr)
  step = denoiser_train.make_train_step(model, optimizer, 'l2')
  inputs = pipeline.to_uint8(blurred[train].reshape(-1, 32, 32, 3)).numpy()
  targets = videos[train].reshape(-1, 32, 32, 3)
  for i in range(BLUR_STEPS):
    idx = denoiser_train.frame_indices(len(inputs), c.batch_size, c.seed, i)
    step(inputs[idx], targets[idx])
  out = denoising.denoise_videos(denoising.Denoiser(model, c), blurred[held_out])
  assert out.shape == blurred[held_out].shape
  l1_blurred = np.abs(blurred[held_out] - sharp[held_out]).mean()
  l1_denoised = np.abs(out - sharp[held_out]).mean()
  assert l1_blurred == pytest.approx(0.0506, abs=0.002)
  assert l1_denoised < l1_blurred / L1_FACTOR, (l1_blurred, l1_denoised)


# The command and the library on a trained workdir ------------------------------
def _start(*args):
  return subprocess.Popen([sys.executable, '-m', 'inrv_tf.denoise', *map(str, args)],
                          cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, env={**os.environ, 'TF_CPP_MIN_LOG_LEVEL': '2'})


def _finish(processes):
  outputs = {name: p.communicate(timeout=TIMEOUT) for name, p in processes.items()}
  return {name: (p.returncode, *outputs[name]) for name, p in processes.items()}


@pytest.fixture(scope='module')
def runs(apps_workdir, tmp_path_factory):
  """Trains a denoiser with the command on a copy of the workdir, then applies it
  to three files; the failing commands run beside the training."""
  tmp = tmp_path_factory.mktemp('denoise')
  workdir = tmp / 'workdir'
  shutil.copytree(apps_workdir, workdir, ignore=shutil.ignore_patterns('denoiser'))
  _, model = workdir_lib.load_model(workdir)
  videos = pipeline.to_uint8(render.render_video(model, model.latents.codes, 8, 32, 32)).numpy()
  inputs = tmp / 'inputs'
  files.write_video(inputs / 'a.mp4', videos[0])
  files.write_video(inputs / 'b.gif', videos[1])
  inputs.mkdir(exist_ok=True)
  np.save(inputs / 'c.npy', videos[0, :5, :24, :16])          # Another size: resized.
  w = f'--workdir={workdir}'
  results = _finish({
      'train': _start('train', w, '--preset=small', '--steps=40'),
      'no_workdir': _start('train', f'--workdir={tmp}/none'),
      'no_denoiser': _start('apply', f'--workdir={apps_workdir}', f'--input={inputs}',
                            f'--out={tmp}/x'),
      'no_command': _start(w),
  })
  results.update(_finish({'apply': _start('apply', w, f'--input={inputs}',
                                          f'--out={tmp}/out')}))
  return tmp, workdir, results


def _ok(runs, name):
  code, stdout, stderr = runs[2][name]
  assert code == 0, stderr[-3000:]
  return stdout


def test_train_command_writes_config_checkpoints_and_metrics(runs):
  stdout = _ok(runs, 'train')
  folder = runs[1] / 'denoiser'
  assert 'denoiser step 40/40' in stdout
  config = denoising.load_config(runs[1])
  assert config == dataclasses.replace(denoising.small(), steps=40)
  assert tf.train.latest_checkpoint(str(folder / 'checkpoints')).endswith('ckpt-40')
  metrics = json.loads((folder / 'metrics.json').read_text())
  assert metrics['step'] == 40 and metrics['frames'] == 16 and metrics['size'] == 32
  inputs = np.load(folder / 'pairs' / 'inputs.npy', mmap_mode='r')
  targets = np.load(folder / 'pairs' / 'targets.npy', mmap_mode='r')
  assert inputs.shape == targets.shape == (16, 32, 32, 3)
  # Restored here, the denoiser scores what it scored in the training process.
  again = denoiser_train.pair_metrics(denoising.load_denoiser(runs[1]), inputs, targets)
  for key in ('l1_input', 'l1_denoised', 'psnr_denoised'):
    assert again[key] == pytest.approx(metrics[key], rel=1e-5), key


def test_apply_command_keeps_names_and_shapes(runs):
  _ok(runs, 'train')
  assert 'Denoised 3 videos at 32 x 32' in _ok(runs, 'apply')
  inputs, out = runs[0] / 'inputs', runs[0] / 'out'
  for name in ('a.mp4', 'b.gif', 'c.npy'):
    read = np.load if name.endswith('.npy') else files.read_video
    before, after = read(inputs / name), read(out / name)
    assert after.shape == before.shape and after.dtype == np.uint8, name
    assert np.abs(after.astype(int) - before).mean() > 1.0, name    # It changed them.
  assert denoising.input_files(inputs / 'b.gif') == [inputs / 'b.gif']
  with pytest.raises(ValueError, match='No such video file or folder'):
    denoising.input_files(inputs / 'none.mp4')


def test_bad_input_exits_1_with_a_clear_message(runs):
  expected = {'no_workdir': 'is not an inrv_tf workdir: no config.json',
              'no_denoiser': 'error: No denoiser trained in',
              'no_command': 'Usage: python -m inrv_tf.denoise {train|apply}'}
  for name, text in expected.items():
    code, _, stderr = runs[2][name]
    assert code == 1, (name, stderr[-2000:])
    assert text in stderr, (name, stderr[-2000:])
    assert 'Traceback' not in stderr, name


def test_maybe_denoise_changes_frames_not_shapes(runs):
  _ok(runs, 'train')
  workdir = runs[1]
  _, model = workdir_lib.load_model(workdir)
  videos = render.render_video(model, model.latents.codes, 8, 32, 32).numpy()
  assert denoising.maybe_denoise(videos, workdir, enabled=False) is videos
  sharp = denoising.maybe_denoise(videos, workdir, enabled=True)
  assert sharp.shape == videos.shape and sharp.dtype == np.float32
  assert np.abs(sharp - videos).mean() > 0.01
  assert sharp.min() >= -1.0 and sharp.max() <= 1.0
  as_uint8 = denoising.maybe_denoise(pipeline.to_uint8(videos).numpy(), workdir, True)
  assert as_uint8.dtype == np.uint8 and as_uint8.shape == videos.shape
  other = render.render_video(model, model.latents.codes[:1], 3, 48, 40).numpy()
  assert denoising.maybe_denoise(other, workdir, True).shape == (1, 3, 48, 40, 3)


def test_training_resumes_and_refuses_another_model(runs):
  _ok(runs, 'train')
  lines = []
  result = denoiser_train.train_denoiser(
      runs[1], dataclasses.replace(denoising.small(), steps=45), log=lines.append)
  assert result['step'] == 45
  assert any(l.startswith('Reusing 16 denoiser pairs') for l in lines), lines
  assert any('Resumed the denoiser from' in l and 'ckpt-40' in l for l in lines), lines
  with pytest.raises(denoising.DenoiserError, match='other hidden'):
    denoiser_train.prepare_directory(runs[1], dataclasses.replace(denoising.small(), hidden=16))


class _Wrapped(tf.Module):
  """What the export's render signatures do with --denoise (docs/denoise.md)."""

  def __init__(self, den):
    super().__init__()
    self.denoiser_variables = denoising.serving_variables(den)
    self._denoiser = den          # A plain dataclass: not tracked, its variables are.
    self.denoise = tf.function(self._denoise, input_signature=[
        tf.TensorSpec([None, None, None, None, 3], tf.float32, name='video')])

  def _denoise(self, video):
    return {'video': pipeline.to_uint8(denoising.denoise_tensor(
        self._denoiser.model, video, self._denoiser.size))}


def test_saved_model_wrapper_matches_the_library(runs, tmp_path):
  _ok(runs, 'train')
  den = denoising.load_denoiser(runs[1])
  videos = np.random.default_rng(0).uniform(-1, 1, (2, 3, 32, 40, 3)).astype(np.float32)
  want = pipeline.to_uint8(denoising.denoise_videos(den, videos)).numpy()
  module = _Wrapped(den)
  path = str(tmp_path / 'saved')
  tf.saved_model.save(module, path, signatures={'serving_default': module.denoise})
  loaded = tf.saved_model.load(path)
  np.testing.assert_array_equal(loaded.signatures['serving_default'](
      video=tf.constant(videos))['video'].numpy(), want)
  # TF Serving's loader: a session restores the variables and runs the graph.
  with tf.Graph().as_default(), tf.compat.v1.Session() as session:
    meta = tf.compat.v1.saved_model.load(session, ['serve'], path)
    signature = meta.signature_def['serving_default']
    got = session.run(signature.outputs['video'].name,
                      {signature.inputs['video'].name: videos})
  np.testing.assert_array_equal(got, want)


def test_config_checks():
  with pytest.raises(denoising.DenoiserError, match='multiple of 8'):
    denoising.validate(dataclasses.replace(denoising.paper(), size=100))
  with pytest.raises(denoising.DenoiserError, match='loss must be l1 or l2'):
    denoising.validate(dataclasses.replace(denoising.paper(), loss='huber'))
  c = denoising.small()
  assert denoising.DenoiserConfig.from_json(c.to_json()) == c
  assert vqvae.SIZES['paper'] == {k: getattr(denoising.paper(), k) for k in vqvae.SIZES['paper']}
