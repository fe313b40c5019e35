"""how2sign_faces: talking-head face crops from How2Sign, 25 frames each.

The INR-V authors publish their face crops of How2Sign (Duarte et al., 2021) as
one tar, `How2Sign-Blobs.tar`, which the builder downloads and extracts. Its
inner layout is not documented, so both forms are accepted, found recursively
and taken in order of their path inside the archive:
  * a folder that directly holds image files (.jpg, .jpeg, .png, .bmp): one
    video, its frames in file name order;
  * a video file (.mp4, .avi, .mov, .mkv, .webm): one video, decoded with
    imageio's ffmpeg plugin, streaming (only the first 25 frames are read).
Videos with at least 25 frames are kept. When more than `num_videos` are kept,
`num_videos` of them are drawn with `np.random.default_rng(seed).choice(...,
replace=False)` and taken in path order (the paper samples 10,000). Each example
is a video's first 25 frames, centre-cropped to their min(H, W) square (a no-op
for square crops) and resized to 128 x 128 with `tf.image.resize(
method='bilinear', antialias=True)`, rounded and clipped to uint8.

Videos that are too short or that ffmpeg cannot decode are skipped; their count
and names are logged at the end. An unreadable image inside a kept folder
raises an error naming it.

Each example is `video`: uint8[25, 128, 128, 3] in [0, 255] and `video_id`:
int64, its index 0..N-1 in path order among the selected videos.

  tfds build datasets/how2sign_faces [--register_checksums]
"""

import dataclasses
import io
import re

from absl import logging
from etils import epath
import imageio.v3 as iio
import numpy as np
from PIL import Image
from PIL import UnidentifiedImageError
import tensorflow as tf
import tensorflow_datasets as tfds

URL = 'http://cvit.iiit.ac.in/images/datasets/inrv/How2Sign-Blobs.tar'
IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp')
VIDEO_SUFFIXES = ('.mp4', '.avi', '.mov', '.mkv', '.webm')
CLIP_FRAMES = 25
SIZE = 128


@dataclasses.dataclass(eq=False)
class How2SignFacesConfig(tfds.core.BuilderConfig):
  """How many videos to keep.

  Attributes:
    num_videos: videos to draw when more are usable (all are kept otherwise).
    seed: seed of the draw, `np.random.default_rng(seed)`.
  """

  num_videos: int = 10_000
  seed: int = 0

  def __post_init__(self):
    if self.num_videos < 1:
      raise ValueError(f'num_videos must be >= 1, got {self.num_videos}')
    if self.seed < 0:
      raise ValueError(f'seed must be >= 0, got {self.seed}')


@dataclasses.dataclass(frozen=True)
class Source:
  """One video of the archive: a folder of frames or a video file.

  Attributes:
    name: path relative to the archive root, e.g. 'How2Sign-Blobs/abc.mp4'.
    frames: the folder's image files sorted by name; empty for a video file.
    file: the video file; None for a folder.
  """

  name: str
  frames: tuple[epath.Path, ...] = ()
  file: epath.Path | None = None


def find_sources(root: epath.Path) -> list[Source]:
  """Lists the folders of images and the video files under `root`, by path."""
  sources = []
  for dirpath, _, filenames in tf.io.gfile.walk(str(root)):
    folder = epath.Path(dirpath)
    name = folder.relative_to(root).as_posix()
    images = sorted(f for f in filenames if f.lower().endswith(IMAGE_SUFFIXES))
    if images:
      sources.append(Source(name, frames=tuple(folder / f for f in images)))
    for f in filenames:
      if f.lower().endswith(VIDEO_SUFFIXES):
        file = folder / f
        sources.append(Source(file.relative_to(root).as_posix(), file=file))
  return sorted(sources, key=lambda source: source.name)


def read_rgb(path: epath.Path) -> np.ndarray:
  """Decodes an image file to uint8[H, W, 3]; raises ValueError naming it and why."""
  try:
    data = path.read_bytes()
  except OSError as e:
    raise ValueError(f'Cannot read image {path}: {e.strerror or e}') from None
  if not data:
    raise ValueError(f'Image {path} is empty (0 bytes).')
  try:
    with Image.open(io.BytesIO(data)) as image:
      return np.asarray(image.convert('RGB'))
  except UnidentifiedImageError:
    raise ValueError(f'Cannot read image {path}: not an image Pillow can decode '
                     '(a damaged file, or another format).') from None
  except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
    # Truncated or damaged data: Pillow's own words ('image file is truncated').
    raise ValueError(f'Cannot read image {path}: {e}') from None


def read_video_frames(path: epath.Path, max_frames: int) -> list[np.ndarray]:
  """Decodes at most `max_frames` frames, uint8[H, W, 3] each, streaming."""
  frames = []
  try:
    for frame in iio.imiter(str(path), plugin='FFMPEG'):
      frames.append(frame[..., :3])
      if len(frames) == max_frames:
        break
  except (OSError, RuntimeError, ValueError) as e:
    # ffmpeg's text is its banner and ~20 lines: keep the message, drop the rest.
    raise ValueError(f'Cannot decode video {path}: {ffmpeg_reason(e)}') from None
  return frames


def ffmpeg_reason(error: BaseException) -> str:
  """One line from an imageio/ffmpeg exception, whose text holds ffmpeg's banner.

  Keeps the last two '[component @ 0x...] message' lines, else the last line.
  """
  text = str(error)
  if 'does not contain any stream' in text:
    return 'it holds no video stream'
  lines = [line.strip() for line in text.splitlines() if line.strip()]
  messages = []
  for line in lines:
    match = re.match(r'^\[[^\]]+ @ 0x[0-9a-f]+\] (.*)$', line)
    if match and match.group(1) not in messages:
      messages.append(match.group(1))
  if messages:
    return '; '.join(messages[-2:])
  return lines[-1] if lines else type(error).__name__


def count_frames(source: Source, max_frames: int) -> int:
  """Frames of `source`, counted up to `max_frames` (raises if undecodable)."""
  if source.file is None:
    return len(source.frames)
  return len(read_video_frames(source.file, max_frames))


def center_square(frame: np.ndarray) -> np.ndarray:
  """Crops uint8[H, W, C] to its centred uint8[S, S, C], S = min(H, W)."""
  h, w = frame.shape[:2]
  side = min(h, w)
  top, left = (h - side) // 2, (w - side) // 2
  return frame[top : top + side, left : left + side]


def load_clip(source: Source, num_frames: int = CLIP_FRAMES) -> np.ndarray:
  """First `num_frames` frames, cropped and resized: uint8[T, SIZE, SIZE, 3]."""
  if source.file is None:
    frames = [read_rgb(path) for path in source.frames[:num_frames]]
  else:
    frames = read_video_frames(source.file, num_frames)
  for i, frame in enumerate(frames):
    if frame.shape != frames[0].shape:
      where = source.frames[i] if source.file is None else f'{source.name}, frame {i}'
      raise ValueError(
          f'Frame {where} is {frame.shape[1]} x {frame.shape[0]}; the first frame'
          f' of {source.name} is {frames[0].shape[1]} x {frames[0].shape[0]}.'
      )
  squares = [center_square(frame) for frame in frames]
  resized = tf.image.resize(np.stack(squares), (SIZE, SIZE), antialias=True)
  return np.clip(np.round(resized.numpy()), 0, 255).astype(np.uint8)


def select_indices(num_usable: int, num_videos: int, seed: int) -> np.ndarray:
  """Indices of the videos kept: all, or a seeded draw of `num_videos`, sorted."""
  if num_usable <= num_videos:
    return np.arange(num_usable)
  rng = np.random.default_rng(seed)
  return np.sort(rng.choice(num_usable, num_videos, replace=False))


class Builder(tfds.core.GeneratorBasedBuilder):
  """DatasetBuilder for how2sign_faces (see the module docstring)."""

  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': 'Initial release.'}
  BUILDER_CONFIGS = [
      How2SignFacesConfig(
          name='default',
          description="10,000 videos drawn with seed 0, as in the paper.",
          num_videos=10_000,
          seed=0,
      ),
  ]

  def _info(self) -> tfds.core.DatasetInfo:
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict({
            'video': tfds.features.Video(
                shape=(CLIP_FRAMES, SIZE, SIZE, 3), dtype=np.uint8
            ),
            'video_id': np.int64,
        }),
        homepage='https://github.com/bipashasen/INR-V-VideoGenerationSpace',
        # Keep the id order on disk, so that `train[:n]` is videos 0..n-1.
        disable_shuffling=True,
    )

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    root = dl_manager.download_and_extract(URL)
    return {'train': self._generate_examples(root)}

  def _generate_examples(self, root: epath.Path):
    sources = find_sources(epath.Path(root))
    # Pass 1 finds the usable videos (the draw needs their number): it counts a
    # folder's files and decodes at most 25 frames of a video file. Pass 2
    # decodes the chosen ones again; keeping all clips would take 1.2 MB each.
    usable, rejected = [], []
    for source in sources:
      try:
        num_frames = count_frames(source, CLIP_FRAMES)
      except ValueError as e:
        rejected.append(f'{source.name} ({e})')
        continue
      if num_frames < CLIP_FRAMES:
        rejected.append(f'{source.name} ({num_frames} frames)')
      else:
        usable.append(source)
    if not usable:
      raise ValueError(
          f'No video of at least {CLIP_FRAMES} frames under {root}'
          f' ({len(sources)} folders of images or video files found).'
      )
    cfg = self.builder_config
    chosen = select_indices(len(usable), cfg.num_videos, cfg.seed)
    for video_id, index in enumerate(chosen):
      video = load_clip(usable[index])
      yield video_id, {'video': video, 'video_id': video_id}
    logging.info(
        'how2sign_faces: %d videos found, %d usable, %d kept.',
        len(sources), len(usable), len(chosen),
    )
    if rejected:
      logging.warning(
          'how2sign_faces: skipped %d videos shorter than %d frames or not'
          ' decodable: %s', len(rejected), CLIP_FRAMES, '; '.join(rejected),
      )
