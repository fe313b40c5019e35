"""bouncing_balls: coloured discs bouncing off the walls, generated (no download).

Each example is one video, `video`: uint8[T, S, S, 3] in [0, 255] with a black
background, and its index `video_id`: int64 in [0, N). A video holds 1 to 3 discs
(config `min_balls`..`max_balls`), each with a random radius in [S/16, S/8] pixels,
a random bright colour, and a random velocity of S/64 to S/16 pixels per frame.
Discs move in a straight line and reflect exactly off the walls, so each disc
always lies wholly inside the frame. Edges are anti-aliased: a pixel takes the
disc's colour in proportion to how much of it the disc covers (1 pixel ramp).
Later discs are drawn over earlier ones.

Video i depends only on (config seed, i): it draws from
`np.random.default_rng([seed, i])`, so every machine builds the same videos, in
the order of their ids.

  tfds build datasets/bouncing_balls --config=small   # 64 videos, 25 x 64 x 64
  tfds build datasets/bouncing_balls --config=large   # 2,000 videos, 25 x 128 x 128
"""

import colorsys
import dataclasses

import numpy as np
import tensorflow_datasets as tfds


@dataclasses.dataclass(eq=False)
class BouncingBallsConfig(tfds.core.BuilderConfig):
  """Size of a generated bouncing-balls dataset.

  Attributes:
    num_videos: number of videos N; ids are 0..N-1.
    num_frames: frames per video T.
    size: frame height and width S in pixels.
    min_balls: fewest discs in a video.
    max_balls: most discs in a video (the count is uniform in between).
    seed: base seed; video i uses `np.random.default_rng([seed, i])`.
  """

  num_videos: int = 64
  num_frames: int = 25
  size: int = 64
  min_balls: int = 1
  max_balls: int = 3
  seed: int = 0

  def __post_init__(self):
    for field in ('num_videos', 'num_frames', 'min_balls'):
      if getattr(self, field) < 1:
        raise ValueError(f'{field} must be >= 1, got {getattr(self, field)}')
    if self.size < 16:
      raise ValueError(f'size must be >= 16 pixels, got {self.size}')
    if self.max_balls < self.min_balls:
      raise ValueError(
          f'max_balls ({self.max_balls}) must be >= min_balls'
          f' ({self.min_balls})'
      )
    if self.seed < 0:
      raise ValueError(f'seed must be >= 0, got {self.seed}')


def sample_trajectories(
    rng: np.random.Generator, num_balls: int, num_frames: int, size: int
) -> tuple[np.ndarray, np.ndarray]:
  """Draws disc radii and their centres in every frame.

  Args:
    rng: the video's random generator.
    num_balls: number of discs B.
    num_frames: number of frames T.
    size: frame side S in pixels.

  Returns:
    centers: f32[T, B, 2] (y, x) in pixels, each in [radius, S - radius].
    radii: f32[B] in [S/16, S/8].
  """
  radii = rng.uniform(size / 16, size / 8, num_balls)
  low = radii[:, None]  # [B, 1]: the lowest centre that keeps a disc inside.
  high = size - low
  pos = rng.uniform(low, high, (num_balls, 2))  # [B, 2]
  speed = rng.uniform(size / 64, size / 16, num_balls)
  angle = rng.uniform(0.0, 2 * np.pi, num_balls)
  vel = speed[:, None] * np.stack([np.sin(angle), np.cos(angle)], axis=-1)
  centers = np.empty((num_frames, num_balls, 2), np.float32)
  for t in range(num_frames):
    centers[t] = pos
    pos = pos + vel
    # One reflection is enough: a step (<= S/16) is shorter than the room
    # a disc has to move in (>= 3S/4).
    below, above = pos < low, pos > high
    pos = np.where(below, 2 * low - pos, np.where(above, 2 * high - pos, pos))
    vel = np.where(below | above, -vel, vel)
  return centers, radii.astype(np.float32)


def render_video(
    centers: np.ndarray, radii: np.ndarray, colors: np.ndarray, size: int
) -> np.ndarray:
  """Draws anti-aliased discs on a black background.

  Args:
    centers: f32[T, B, 2] (y, x) disc centres in pixels.
    radii: f32[B] disc radii in pixels.
    colors: uint8[B, 3] RGB colour of each disc.
    size: frame side S in pixels.

  Returns:
    uint8[T, S, S, 3] in [0, 255].
  """
  pixel = np.arange(size, dtype=np.float32) + 0.5  # Pixel centres.
  frames = np.zeros((centers.shape[0], size, size, 3), np.float32)
  for b, radius in enumerate(radii):
    dy = pixel[None, :, None] - centers[:, b, 0, None, None]  # [T, S, 1]
    dx = pixel[None, None, :] - centers[:, b, 1, None, None]  # [T, 1, S]
    # Coverage ramps from 1 to 0 across the pixel that the edge crosses.
    alpha = np.clip(radius + 0.5 - np.sqrt(dy**2 + dx**2), 0.0, 1.0)
    alpha = alpha[..., None]  # [T, S, S, 1]
    frames = frames * (1 - alpha) + colors[b].astype(np.float32) * alpha
  return np.clip(np.round(frames), 0, 255).astype(np.uint8)


def make_video(config: BouncingBallsConfig, index: int) -> np.ndarray:
  """Returns video `index` of `config`: uint8[T, S, S, 3] in [0, 255]."""
  rng = np.random.default_rng([config.seed, index])
  num_balls = int(rng.integers(config.min_balls, config.max_balls + 1))
  centers, radii = sample_trajectories(
      rng, num_balls, config.num_frames, config.size
  )
  hsv = zip(
      rng.uniform(0.0, 1.0, num_balls),  # Hue.
      rng.uniform(0.6, 1.0, num_balls),  # Saturation: clearly coloured.
      rng.uniform(0.8, 1.0, num_balls),  # Value: bright on black.
  )
  colors = np.array([colorsys.hsv_to_rgb(*c) for c in hsv]) * 255
  return render_video(centers, radii, np.round(colors).astype(np.uint8),
                      config.size)


class Builder(tfds.core.GeneratorBasedBuilder):
  """DatasetBuilder for bouncing_balls."""

  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': 'Initial release.'}
  BUILDER_CONFIGS = [
      BouncingBallsConfig(
          name='small',
          description='64 videos of 25 frames, 64 x 64 (builds in seconds).',
          num_videos=64,
          num_frames=25,
          size=64,
      ),
      BouncingBallsConfig(
          name='large',
          description='2,000 videos of 25 frames, 128 x 128.',
          num_videos=2000,
          num_frames=25,
          size=128,
      ),
  ]
  DEFAULT_BUILDER_CONFIG_NAME = 'small'

  def _info(self) -> tfds.core.DatasetInfo:
    cfg = self.builder_config
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict({
            'video': tfds.features.Video(
                shape=(cfg.num_frames, cfg.size, cfg.size, 3), dtype=np.uint8
            ),
            'video_id': np.int64,
        }),
        # Keep the id order on disk, so that `train[:n]` is videos 0..n-1.
        disable_shuffling=True,
    )

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    del dl_manager  # Nothing to download.
    return {'train': self._generate_examples()}

  def _generate_examples(self):
    for i in range(self.builder_config.num_videos):
      yield i, {'video': make_video(self.builder_config, i), 'video_id': i}
