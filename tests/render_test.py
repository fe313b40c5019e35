"""Rendering a trained space at any size and length, in chunks."""

import numpy as np
import pytest

from inrv_tf import workdir as workdir_lib
from inrv_tf.data import pipeline
from inrv_tf.model import render

TRAINED_PSNR = 30.0   # dB: the fixture's reconstructions are ~43 dB.


@pytest.fixture(scope='module')
def trained(apps_workdir):
  """(config, model) of the session's small trained workdir (conftest.py)."""
  return workdir_lib.load_model(apps_workdir)


@pytest.fixture(scope='module')
def codes(trained):
  return trained[1].latents.codes.numpy()


def test_trained_size_render_reconstructs_the_training_videos(trained, codes, tfds_dir):
  config, model = trained
  builder = pipeline.get_builder('bouncing_balls', tfds_dir)
  truth = next(iter(pipeline.eval_dataset(builder, config.data, 2, 2)))['video'].numpy()
  video = render.render_video(model, codes, 8, 32, 32).numpy()
  assert video.shape == (2, 8, 32, 32, 3)
  mse = np.mean((np.clip(video, -1, 1) - pipeline.to_float(truth).numpy()) ** 2, axis=(1, 2, 3, 4))
  assert np.all(10 * np.log10(4.0 / mse) > TRAINED_PSNR)


@pytest.mark.parametrize('size,chunk', [
    ((1, 8, 8), 1), ((8, 32, 32), 1000), ((8, 32, 32), 8191), ((8, 32, 32), 8192)])
def test_chunked_equals_unchunked(trained, codes, size, chunk):
  model = trained[1]
  whole = render.render_video(model, codes, *size, chunk_pixels=1 << 20).numpy()
  chunked = render.render_video(model, codes, *size, chunk_pixels=chunk).numpy()
  np.testing.assert_allclose(chunked, whole, atol=1e-5)


def test_render_array_equals_the_one_graph_render(trained, codes):
  """render_array (several graph calls, written into one array) against
  render_params (the exporter's whole-video graph): the same pixels."""
  model = trained[1]
  chunk = 50      # 3 x 20 x 20 = 1,200 pixels: 24 chunks, two calls of up to 16
  assert 1200 > chunk * render.CHUNKS_PER_CALL
  array = render.render_array(model, codes, 3, 20, 20, chunk_pixels=chunk)
  assert isinstance(array, np.ndarray) and array.shape == (2, 3, 20, 20, 3)
  graph = render.render_params(model.inr_params(codes), 3, 20, 20,
                               model.model_config.num_frequencies, chunk).numpy()
  np.testing.assert_allclose(array, graph, atol=1e-5)
  assert array.flags['C_CONTIGUOUS']


@pytest.mark.parametrize('batch_size', [None, 1])
def test_iter_frames_parts_make_render_array(trained, codes, batch_size):
  """11 frames of 20 x 20 for 2 codes in parts of 3 frames (2,400 of 2 x 400 pixels)."""
  model = trained[1]
  assert render.frames_per_part(2, 20, 20, part_pixels=2400) == 3
  parts = list(render.iter_frames(model, codes, 11, 20, 20, chunk_pixels=500,
                                  batch_size=batch_size, part_pixels=2400))
  assert [p.shape for p in parts] == [(2, 3, 20, 20, 3)] * 3 + [(2, 2, 20, 20, 3)]
  whole = render.render_array(model, codes, 11, 20, 20)
  np.testing.assert_allclose(np.concatenate(parts, axis=1), whole, atol=1e-5)
  assert render.frames_per_part(2, 2000, 2000, part_pixels=2400) == 1   # At least a frame.


def test_bfloat16_inr_keeps_first_and_last_layers_in_float32(trained, codes, monkeypatch):
  """The mixed-precision INR against float32, on a trained model's codes.

  Measured on this fixture: 51.8 dB of agreement with float32 for the mixed
  INR (both layouts), 45.4 dB with every layer in bfloat16 (on another small
  model: 59.1 and 51.9 dB).
  """
  import tensorflow as tf
  from inrv_tf.model import encoding
  from inrv_tf.model import inr
  model = trained[1]
  params = model.inr_params(codes)
  features = tf.constant(encoding.encoded_grid(8, 32, 32, model.model_config.num_frequencies))
  full = inr.apply_inr(params, features).numpy()

  def agreement(layout):
    rgb = inr.apply_inr(params, features, tf.bfloat16, layout).numpy()
    return 10 * np.log10(4.0 / np.mean((rgb - full) ** 2))

  assert inr.layer_dtypes(4, tf.bfloat16) == [tf.float32, tf.bfloat16, tf.bfloat16,
                                              tf.float32]
  mixed = {layout: agreement(layout) for layout in ('per_video', 'einsum')}
  monkeypatch.setattr(inr, 'layer_dtypes', lambda n, dtype: [dtype] * n)
  all_bf16 = agreement('per_video')
  assert min(mixed.values()) > 48.0, (mixed, all_bf16)
  assert min(mixed.values()) > all_bf16 + 3.0, (mixed, all_bf16)


def test_finer_grid_contains_the_trained_grid(trained, codes):
  """Grid points include the ends, so (2n - 1) points hold the n trained ones."""
  model = trained[1]
  trained_size = render.render_video(model, codes, 8, 32, 32).numpy()
  fine = render.render_video(model, codes, 15, 63, 63, chunk_pixels=5000).numpy()
  assert fine.shape == (2, 15, 63, 63, 3)
  np.testing.assert_allclose(fine[:, ::2, ::2, ::2], trained_size, atol=1e-5)
  # The new points are new values, not copies of their neighbours.
  assert np.abs(fine[:, 1::2] - fine[:, :-1:2]).max() > 1e-2


@pytest.mark.parametrize('size', [(25, 16, 16), (16, 64, 64), (50, 12, 20), (1, 128, 128)])
def test_renders_sizes_and_lengths_never_trained(trained, codes, size):
  video = render.render_video(trained[1], codes[:1], *size, chunk_pixels=4096).numpy()
  assert video.shape == (1, *size, 3)
  assert np.all(np.isfinite(video)) and np.abs(video).max() < 2.0


def test_render_codes_batches_like_one_render(trained, codes):
  model = trained[1]
  many = np.concatenate([codes, codes[::-1], codes[:1]])   # 5 codes, batches of 2
  out = render.render_codes(model, many, 3, 10, 12, chunk_pixels=100, batch_size=2)
  np.testing.assert_allclose(out, render.render_video(model, many, 3, 10, 12).numpy(),
                             atol=1e-5)


@pytest.mark.parametrize('size,message', [
    ((0, 32, 32, 1024), 'frames must be a positive integer'),
    ((8, -1, 32, 1024), 'height must be a positive integer'),
    ((8, 32, 2.5, 1024), 'width must be a positive integer'),
    ((8, 32, True, 1024), 'width must be a positive integer'),
    ((8, 32, 32, 0), 'chunk_pixels must be a positive integer'),
    ((2000, 2000, 2000, 1024), 'more than one render can index'),
])
def test_bad_sizes_raise(trained, codes, size, message):
  with pytest.raises(render.RenderSizeError, match=message):
    render.render_video(trained[1], codes, *size[:3], chunk_pixels=size[3])
  assert issubclass(render.RenderSizeError, ValueError)


def test_bad_codes_raise(trained, codes):
  with pytest.raises(ValueError, match=r'f32\[B, 32\]'):
    render.render_video(trained[1], codes[0], 2, 4, 4)
  with pytest.raises(ValueError, match=r'f32\[B, 32\]'):
    render.render_video(trained[1], codes[:, :8], 2, 4, 4)


def test_output_size_defaults_to_training(trained):
  config = trained[0]
  assert render.output_size(config.data) == (8, 32, 32)
  assert render.output_size(config.data, None, 128, None) == (8, 128, 32)


def test_tile_videos_near_square_row_major():
  videos = np.stack([np.full((2, 3, 4, 1), i + 1, np.uint8) for i in range(5)])
  grid = render.tile_videos(videos)
  assert grid.shape == (2, 2 * 3, 3 * 4, 1)   # 5 cells -> 3 columns, 2 rows
  cells = grid[0, ::3, ::4, 0]
  np.testing.assert_array_equal(cells, [[1, 2, 3], [4, 5, 0]])
  assert render.tile_videos(videos, columns=5).shape == (2, 3, 20, 1)
  with pytest.raises(ValueError, match='tile_videos'):
    render.tile_videos(videos[0])
