"""Moving-MNIST sequences drawn from a digit pool: seeded, in numpy.

Sequence i draws from `np.random.default_rng([seed, i])`: `num_digits` random
digits of the pool, each with a uniform start position and a velocity of
`speed` in a uniform direction, reflected at the walls
(`tfds.video.moving_sequence`'s motion); digits combine by pixel-wise maximum
and never leave the 64 x 64 frame. `config` is any object with `num_digits`,
`speed` and `seed` (the builder's MovingMnistConfig).
"""

import numpy as np

NUM_FRAMES = 20
SIZE = 64


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


def sequence_layout(
    digits: np.ndarray, config, index: int
) -> list[tuple[int, np.ndarray]]:
  """Which digits sequence `index` shows, and where.

  Args:
    digits: uint8[N, h, w], the digit pool (only N, h and w are used).
    config: the generated config (num_digits, speed, seed).
    index: the sequence's index.

  Returns:
    One (pool index, int[20, 2] top-left (y, x) per frame) per digit; corners
    lie in [0, 64 - h] x [0, 64 - w], so digits stay whole in the frame.
  """
  rng = np.random.default_rng([config.seed, index])
  _, h, w = digits.shape
  room = np.array([SIZE - h, SIZE - w], np.float32)
  layout = []
  for _ in range(config.num_digits):
    k = int(rng.integers(len(digits)))
    start = rng.uniform(0.0, 1.0, 2).astype(np.float32)
    direction = rng.normal(size=2)
    velocity = (config.speed * direction / np.linalg.norm(direction)).astype(
        np.float32
    )
    corners = np.round(bounce_trajectory(start, velocity, NUM_FRAMES) * room)
    layout.append((k, corners.astype(int)))
  return layout


def render_digit(frames: np.ndarray, digit: np.ndarray, corners: np.ndarray):
  """Draws `digit` into uint8[T, 64, 64] `frames` by pixel-wise maximum."""
  h, w = digit.shape
  for t, (y, x) in enumerate(corners):
    patch = frames[t, y : y + h, x : x + w]
    np.maximum(patch, digit, out=patch)


def make_sequence(
    digits: np.ndarray, config, index: int
) -> np.ndarray:
  """Returns generated sequence `index`: uint8[20, 64, 64, 1] in [0, 255].

  The frames are the pixel-wise maximum of the sequence's digits, placed as
  `sequence_layout` says (no blending, no clipping).
  """
  frames = np.zeros((NUM_FRAMES, SIZE, SIZE), np.uint8)
  for k, corners in sequence_layout(digits, config, index):
    render_digit(frames, digits[k], corners)
  return frames[..., None]
