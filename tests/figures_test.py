"""Pictures of a run: montage and strip layouts, the curve plot, the kept training curve."""

import imageio.v3 as iio
import numpy as np
import pytest

from inrv_tf import figures
from inrv_tf import files
from inrv_tf.model import render
from inrv_tf.train import curves as curves_lib


def _videos(n, t=25, h=32, w=32):
  """uint8[n, t, h, w, 3]: video i, frame j is the constant 10 * i + j."""
  values = 10 * np.arange(n)[:, None] + np.arange(t)[None, :]
  return np.broadcast_to(values[:, :, None, None, None], (n, t, h, w, 3)).astype(np.uint8)


def test_frame_indices_span_first_to_last():
  np.testing.assert_array_equal(figures.frame_indices(25), [0, 3, 7, 10, 14, 17, 21, 24])
  np.testing.assert_array_equal(figures.frame_indices(4), [0, 1, 2, 3])
  np.testing.assert_array_equal(figures.frame_indices(1), [0])


def test_montage_rows_are_truth_over_reconstruction():
  truth, recon = _videos(3), 255 - _videos(3)
  image = figures.montage(truth, recon)
  # 32 px frames are doubled to 64: 3 videos x 2 strips x 64 + 2 gaps of 2; 8 frames x 64.
  assert image.shape == (3 * 2 * 64 + 2 * 2, 8 * 64, 3) == (388, 512, 3)
  assert image.dtype == np.uint8
  assert image[0, 0, 0] == 0 and image[0, 64 * 7, 0] == 24          # video 0, frames 0, 24
  assert image[64, 0, 0] == 255                                      # its reconstruction
  assert (image[128:130] == 255).all()                               # the white gap
  assert image[130, 64, 0] == 10 + 3                                 # video 1, frame 3
  with pytest.raises(ValueError, match='montage needs'):
    figures.montage(truth, recon[:2])


def test_strips_and_side_by_side_sizes():
  seen, result, truth = _videos(3, t=8, h=16, w=24)
  assert figures.strips([seen, result, truth]).shape == (3 * 64, 8 * 24 * 4, 3)
  assert figures.strips([seen], min_side=8).shape == (16, 8 * 24, 3)
  assert figures.side_by_side([seen, result, truth]).shape == (8, 16, 72, 3)


def test_write_image_round_trips(tmp_path):
  image = figures.montage(_videos(2, t=4, h=8, w=8), _videos(2, t=4, h=8, w=8))
  files.write_image(tmp_path / 'm.png', image)
  np.testing.assert_array_equal(iio.imread(tmp_path / 'm.png'), image)


def test_training_curves_plot_is_800_by_600(tmp_path):
  steps = list(range(100, 2600, 100))
  curves = {'step': steps, 'loss': [1.0 / s for s in steps],
            'psnr': [10 + s / 100 for s in steps], 'stage_videos': [10] * 10 + [64] * 15}
  figures.plot_training_curves(curves, tmp_path / 'curves.png', 'test')
  image = iio.imread(tmp_path / 'curves.png')
  assert image.shape[:2] == (600, 800)
  assert image[..., :3].std() > 10           # Something is drawn on the white page.


def test_interpolation_grid_fills_the_last_cells_with_the_end_video():
  videos = np.stack([np.full((2, 3, 4, 1), i + 1, np.uint8) for i in range(5)])
  grid = render.tile_videos(videos, fill_last=True)
  np.testing.assert_array_equal(grid[0, ::3, ::4, 0], [[1, 2, 3], [4, 5, 5]])
  assert render.tile_videos(videos)[0, 3, 8, 0] == 0          # The default stays black.


def test_curves_keep_the_points_up_to_the_resumed_step(tmp_path):
  path = tmp_path / 'training_curves.json'
  curves = curves_lib.Curves(path)
  for step in (100, 200, 300):
    curves.add(step=step, loss=1.0 / step, psnr=step / 10, stage_videos=64,
               pixels_per_second=1e5, input_wait=0.01)
  curves.save()
  resumed = curves_lib.Curves.load(path, up_to_step=200)   # Killed after 300, saved at 200.
  assert resumed.columns['step'] == [100, 200] and resumed.columns['psnr'] == [10.0, 20.0]
  resumed.add(step=300, loss=0.5, psnr=31.0, stage_videos=64, pixels_per_second=1e5,
              input_wait=0.0)
  resumed.save()
  assert curves_lib.Curves.load(path, up_to_step=10**9).columns['psnr'] == [10.0, 20.0, 31.0]
  assert len(curves_lib.Curves.load(tmp_path / 'none.json', up_to_step=5)) == 0
