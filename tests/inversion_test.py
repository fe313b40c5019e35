"""Inversion tasks on a trained `small` space: masks, recovery, visibility, errors."""

import numpy as np
import pytest

from inrv_tf import workdir as workdir_lib
from inrv_tf.data import pipeline
from inrv_tf.apps import inversion
from inrv_tf.model import render
from tests import testing

STEPS = 60              # Adam steps each task gets (lr 1e-2, from the mean code).
RECOVERY_PSNR = 30.0    # dB on the whole video; training reaches ~43, the mean code ~15.
SUPERRES_PSNR = 22.0    # dB: 16 x 16 -> 32 x 32 against the training video.
MASKED_TASKS = [t for t in inversion.TASKS if t != 'superresolution']


@pytest.fixture(scope='module')
def trained(apps_workdir):
  """(config, model) of the session's small trained workdir (conftest.py)."""
  return workdir_lib.load_model(apps_workdir)


@pytest.fixture(scope='module')
def videos(trained, tfds_dir):
  """The 2 training videos, f32[2, 8, 32, 32, 3] in [-1, 1]."""
  builder = pipeline.get_builder('bouncing_balls', tfds_dir)
  batch = next(iter(pipeline.eval_dataset(builder, trained[0].data, 2, 2)))
  return pipeline.to_float(batch['video']).numpy()


# Masks -----------------------------------------------------------------------
def test_masks_show_what_design_md_says():
  t, h, w = 8, 6, 5
  assert inversion.make_mask('inversion', t, h, w).all()
  assert inversion.make_mask('superresolution', t, h, w).all()
  inpainting = inversion.make_mask('inpainting', t, h, w)
  assert inpainting[:, :3].all() and not inpainting[:, 3:].any()
  prediction = inversion.make_mask('frame_prediction', t, h, w)
  assert prediction[:4].all() and not prediction[4:].any()
  between = inversion.make_mask('frame_interpolation', t, h, w)
  assert between[[0, -1]].all() and not between[1:-1].any()
  sparse = inversion.make_mask('sparse_inpainting', t, h, w, seed=1)
  assert sparse.sum() == 60 and sparse.dtype == bool     # round(0.25 * 240)
  np.testing.assert_array_equal(sparse, inversion.make_mask('sparse_inpainting', t, h, w, 1))
  assert (sparse != inversion.make_mask('sparse_inpainting', t, h, w, 2)).any()


@pytest.mark.parametrize('args,message', [
    (('painting', 8, 4, 4), 'Unknown task'),
    (('frame_prediction', 4, 4, 4), 'more than 4 frames'),
    (('frame_interpolation', 2, 4, 4), 'at least 3 frames'),
    (('inpainting', 8, 1, 4), 'height of at least 2'),
    (('inversion', 0, 4, 4), 'frames must be a positive integer'),
])
def test_bad_mask_requests_raise(args, message):
  with pytest.raises(inversion.InversionError, match=message):
    inversion.make_mask(*args)


# Recovery --------------------------------------------------------------------
def _psnr(a, b):
  return inversion.score(a, b)['psnr']


@pytest.mark.large
@pytest.mark.parametrize('task', MASKED_TASKS)
def test_each_task_recovers_training_videos(trained, videos, task):
  model = trained[1]
  mask = inversion.make_mask(task, 8, 32, 32)
  start = render.render_video(model, inversion.initial_codes(model, 2), 8, 32, 32)
  result = inversion.invert(model, videos, mask, steps=STEPS)
  assert result.codes.shape == (2, 32) and result.losses.shape == (STEPS, 2)
  full = render.render_video(model, result.codes, 8, 32, 32).numpy()
  after, before = np.array(_psnr(full, videos)), np.array(_psnr(start, videos))
  assert np.all(after > RECOVERY_PSNR), (task, after)
  assert np.all(after > before + 10.0), (task, before, after)
  assert np.all(result.losses[-1] < 0.1 * result.losses[0])
  scores = inversion.score(full, videos, mask)
  assert max(scores['context_l1']) < 2.0 and min(scores['ssim']) > 0.7


@pytest.mark.large
def test_superresolution_of_a_training_video(trained, videos):
  model = trained[1]
  low = inversion.resize_frames(videos, 16, 16, 'area')
  result, high = inversion.superresolve(model, low, 32, 32, steps=STEPS)
  assert high.shape == (2, 8, 32, 32, 3) and result.steps == STEPS
  assert min(_psnr(high, videos)) > SUPERRES_PSNR


def test_hidden_pixels_change_nothing(trained, videos):
  model = trained[1]
  mask = inversion.make_mask('sparse_inpainting', 8, 32, 32, seed=0)
  noisy = np.where(mask[None, ..., None], videos,
                   np.random.default_rng(0).uniform(-1, 1, videos.shape)).astype(np.float32)
  a = inversion.invert(model, videos, mask, steps=10)
  b = inversion.invert(model, noisy, mask, steps=10)
  np.testing.assert_array_equal(a.codes, b.codes)
  np.testing.assert_array_equal(a.losses, b.losses)
  # ...while a visible pixel does change the result.
  t, h, w = np.argwhere(mask)[0]
  touched = videos.copy()
  touched[:, t, h, w] = 0.5 - 0.5 * videos[:, t, h, w]    # A different value.
  assert not np.array_equal(inversion.invert(model, touched, mask, steps=10).codes, a.codes)


def test_model_is_frozen_and_chunks_do_not_matter(trained, videos):
  model = trained[1]
  before = testing.variables_by_path(model)
  mask = inversion.make_mask('inpainting', 8, 32, 32)
  whole = inversion.invert(model, videos, mask, steps=5, chunk_pixels=1 << 20)
  chunked = inversion.invert(model, videos, mask, steps=5, chunk_pixels=1000)
  np.testing.assert_allclose(chunked.codes, whole.codes, atol=1e-5)
  np.testing.assert_allclose(chunked.losses, whole.losses, rtol=1e-4)
  for path, value in testing.variables_by_path(model).items():
    np.testing.assert_array_equal(value, before[path], err_msg=path)


def test_initial_codes(trained):
  model = trained[1]
  table = model.latents.codes.numpy()
  np.testing.assert_allclose(inversion.initial_codes(model, 3),
                             np.repeat(table.mean(0, keepdims=True), 3, 0))
  assert not inversion.initial_codes(model, 2, 'zeros').any()
  random = inversion.initial_codes(model, 2, 'random', seed=1)
  np.testing.assert_array_equal(random, inversion.initial_codes(model, 2, 'random', seed=1))
  with pytest.raises(inversion.InversionError, match='Unknown init'):
    inversion.initial_codes(model, 2, 'ones')


def test_clip_models_start_from_zeros():
  """With Video-CLIP the learned m need frame embeddings: 'mean' says so."""
  from inrv_tf.model import inrv as model_lib
  model = model_lib.build_model(testing.tiny_model_config(
      clip=True, clip_dim=8, gru_units=4, gru_layers=1, merge_widths=(8,)), seed=0)
  with pytest.raises(inversion.InversionError, match="Video-CLIP.*init='zeros'"):
    inversion.initial_codes(model, 1)
  assert inversion.initial_codes(model, 2, 'zeros').shape == (2, 8)   # m, not c


# Scores ----------------------------------------------------------------------
def test_scores_on_known_errors():
  target = np.zeros((1, 2, 12, 12, 3), np.float32)
  pred = target + 0.02                          # 0.01 on [0, 1]: 1.0 on 0-100.
  mask = np.zeros((2, 12, 12), bool)
  mask[0] = True
  pred[0, 1] = 1.0                              # A hidden frame, far off.
  np.testing.assert_allclose(inversion.context_l1(pred, target, mask), [1.0], rtol=1e-5)
  scores = inversion.score(target + 0.02, target, mask)
  np.testing.assert_allclose(scores['psnr'], [40.0], rtol=1e-4)   # mse 1e-4 on [0, 1]
  assert scores['ssim'][0] > 0.99
  assert inversion.score(target[:, :, :8, :8], target[:, :, :8, :8])['ssim'] == [None]


# Errors ----------------------------------------------------------------------
@pytest.mark.parametrize('change,message', [
    (lambda v, m: ((v * 127.5 + 127.5).astype(np.uint8), m), 'floating point'),
    (lambda v, m: (v[0, 0], m), r'f32\[B, T, H, W, 3\]'),
    (lambda v, m: (v[..., :2], m), r'f32\[B, T, H, W, 3\]'),
    (lambda v, m: (v * 255.0, m), r'must lie in \[-1, 1\]'),
    (lambda v, m: (np.full_like(v, np.nan), m), 'NaN'),
    (lambda v, m: (v, np.zeros_like(m)), 'mask is empty'),
    (lambda v, m: (v, m[:4]), 'the videos are'),
])
def test_bad_inputs_raise(trained, videos, change, message):
  mask = inversion.make_mask('inversion', 8, 32, 32)
  bad_videos, bad_mask = change(videos, mask)
  with pytest.raises(inversion.InversionError, match=message):
    inversion.invert(trained[1], bad_videos, bad_mask, steps=1)


def test_bad_settings_raise(trained, videos):
  mask = inversion.make_mask('inversion', 8, 32, 32)
  with pytest.raises(inversion.InversionError, match='steps must be'):
    inversion.invert(trained[1], videos, mask, steps=0)
  with pytest.raises(ValueError, match='Unknown loss'):
    inversion.invert(trained[1], videos, mask, steps=1, loss='l3')


def test_prepare_video_checks_files():
  video = np.zeros((10, 40, 40, 3), np.uint8)
  out = inversion.prepare_video(video, 8, 32, 32)
  assert out.shape == (8, 32, 32, 3) and out.dtype == np.float32 and out.min() == -1.0
  with pytest.raises(inversion.InversionError, match='has 4 frames.*at least 8'):
    inversion.prepare_video(video[:4], 8, 32, 32)
  with pytest.raises(inversion.InversionError, match='uint8'):
    inversion.prepare_video(video.astype(np.float32), 8, 32, 32)
  with pytest.raises(inversion.InversionError, match=r'uint8\[T, H, W, 3\]'):
    inversion.prepare_video(video[0], 8, 32, 32)


def test_center_crop_box():
  assert inversion.center_crop_box(60, 40, 32, 32) == (10, 0, 40, 40)    # Portrait.
  assert inversion.center_crop_box(40, 100, 32, 64) == (0, 10, 40, 80)   # Wider than 1:2.
  assert inversion.center_crop_box(48, 64, 24, 32) == (0, 0, 48, 64)     # Already 3:4.
  assert inversion.center_crop_box(33, 32, 32, 32) == (0, 0, 32, 32)     # Rounding: 1 row.


def test_prepare_video_crops_another_aspect_and_says_so():
  """A portrait clip for a square model: its red top and bottom bands are cropped
  away before the resize (squashing would keep them), and the log says so."""
  video = np.zeros((10, 60, 40, 3), np.uint8)
  video[:, :10, :, 0] = video[:, 50:, :, 0] = 255     # Red bands, 10 rows each.
  video[:, 10:50, :, 1] = 200                         # The green centre, 40 x 40.
  messages = []
  out = inversion.prepare_video(video, 8, 32, 32, 'clip.mp4', messages.append)
  assert out.shape == (8, 32, 32, 3)
  np.testing.assert_allclose(out[..., 0], -1.0)                 # No red left.
  np.testing.assert_allclose(out[..., 1], 200 / 127.5 - 1, atol=1e-6)
  assert messages == ['clip.mp4 is 60 x 40: cropped to its centred 40 x 40 (rows 10-49, '
                      'columns 0-39), the aspect of the model\'s 32 x 32, so that resizing '
                      'does not squash it.']
  inversion.prepare_video(video[:, 10:50], 8, 32, 32, 'square.mp4', messages.append)
  assert len(messages) == 1                                      # Same aspect: no crop.
  with pytest.raises(inversion.InversionError, match='^clip.npy has 4 frames; this model'):
    inversion.prepare_video(video[:4], 8, 32, 32, 'clip.npy')


def test_a_second_inversion_reuses_the_traced_step(trained):
  """Inverting again with the same model, batch, loss and chunk traces nothing new,
  and a reused solver gives the result a fresh one gives (its Adam is reset)."""
  from inrv_tf.apps import inversion
  _, model = trained
  rng = np.random.default_rng(5)
  videos = rng.uniform(-1, 1, (1, 8, 32, 32, 3)).astype(np.float32)
  mask = inversion.make_mask('inpainting', 8, 32, 32)
  first = inversion.invert(model, videos, mask, steps=6, chunk_pixels=4096)
  _, _, step = inversion._solver(model, 1, 'l2', 4096)   # pylint: disable=protected-access
  traced = step.experimental_get_tracing_count()
  other = inversion.invert(model, videos[:, :, :16], inversion.make_mask('inversion', 8, 16, 32),
                           steps=3, chunk_pixels=4096)
  again = inversion.invert(model, videos, mask, steps=6, chunk_pixels=4096)
  assert step.experimental_get_tracing_count() == traced == 1
  assert other.codes.shape == (1, 32)
  np.testing.assert_allclose(again.codes, first.codes, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(again.losses, first.losses, rtol=1e-5)
