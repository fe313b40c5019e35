import numpy as np
import pytest
import tensorflow as tf

from inrv_tf.model import grid


def test_corners_and_order():
  g = grid.make_grid(2, 2, 2).numpy()
  assert g.shape == (8, 3)
  np.testing.assert_array_equal(g[0], [-1, -1, -1])
  np.testing.assert_array_equal(g[-1], [1, 1, 1])
  np.testing.assert_array_equal(g[1], [-1, -1, 1])   # w varies fastest
  np.testing.assert_array_equal(g[4], [1, -1, -1])   # t varies slowest


def test_single_frame_maps_to_minus_one():
  g = grid.make_grid(1, 3, 3).numpy()
  np.testing.assert_array_equal(g[:, 0], -1.0)
  np.testing.assert_allclose(np.unique(g[:, 1]), [-1, 0, 1])


def test_endpoints_included_and_linear():
  np.testing.assert_allclose(grid.axis_coords(5).numpy(), [-1, -0.5, 0, 0.5, 1])


@pytest.mark.parametrize('shape', [(1, 1, 1), (3, 4, 5), (25, 7, 9)])
def test_matches_numpy_meshgrid(shape):
  axes = [np.arange(n) / max(n - 1, 1) * 2.0 - 1.0 for n in shape]
  expected = np.stack(np.meshgrid(*axes, indexing='ij'), axis=-1).reshape(-1, 3)
  np.testing.assert_allclose(grid.make_grid(*shape).numpy(), expected, atol=1e-7)


def test_grid_from_index_picks_rows_of_the_grid():
  index = tf.constant([0, 7, 19, 59], tf.int32)
  np.testing.assert_array_equal(grid.grid_from_index(index, 3, 4, 5).numpy(),
                                tf.gather(grid.make_grid(3, 4, 5), index).numpy())


def test_reshape_restores_video_layout():
  g = grid.make_grid(3, 4, 5).numpy().reshape(3, 4, 5, 3)
  np.testing.assert_allclose(g[2, 1, 3], [1.0, -1 + 2 / 3, 0.5], atol=1e-6)
