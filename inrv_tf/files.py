"""Files: videos (.mp4 / .gif through imageio), JSON and text, written atomically.

Every write goes to a temporary file beside the target and is renamed into
place, so a reader never sees half a file.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import tempfile

import numpy as np

VIDEO_SUFFIXES = ('.mp4', '.gif')


class VideoFileError(ValueError):
  """A video file that is missing, unreadable or of an unusable shape."""


@contextlib.contextmanager
def atomic_path(path, suffix: str = ''):
  """Yields a temporary path in the target's folder; renames it over `path` on success."""
  path = pathlib.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  fd, tmp = tempfile.mkstemp(prefix=f'.{path.name}.', suffix=suffix or path.suffix,
                             dir=path.parent)
  os.close(fd)
  try:
    yield tmp
    os.replace(tmp, path)
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)


def write_json(path, obj) -> None:
  write_text(path, json.dumps(obj, indent=2, sort_keys=True) + '\n')


def write_text(path, text: str) -> None:
  with atomic_path(path) as tmp:
    pathlib.Path(tmp).write_text(text)


def write_video(path, video, fps: int = 10) -> None:
  """Writes uint8[T, H, W, 3] as .mp4 (libx264) or .gif, by the suffix.

  Frames whose sides are not multiples of 16 are written as they are (imageio
  is told not to resize them).
  """
  import imageio.v3 as iio  # Deferred: imageio-ffmpeg is only needed to write.
  video = np.asarray(video)
  if video.dtype != np.uint8 or video.ndim != 4 or video.shape[-1] != 3:
    raise ValueError(f'write_video needs uint8[T, H, W, 3], got {video.dtype}{list(video.shape)}.')
  suffix = pathlib.Path(path).suffix.lower()
  if suffix not in VIDEO_SUFFIXES:
    raise ValueError(f'Unsupported video suffix {suffix!r}; use one of {VIDEO_SUFFIXES}.')
  with atomic_path(path) as tmp:
    if suffix == '.gif':
      iio.imwrite(tmp, video, extension='.gif', duration=1000 / fps, loop=0)
    else:
      iio.imwrite(tmp, video, extension='.mp4', plugin='FFMPEG',
                  fps=fps, macro_block_size=1, codec='libx264',
                  pixelformat='yuv420p', output_params=['-crf', '15'])


def read_video(path) -> np.ndarray:
  """Reads a video file (anything imageio's ffmpeg plugin reads, or .gif/.npy).

  Returns:
    uint8[T, H, W, 3].
  Raises:
    VideoFileError naming the file and the problem.
  """
  path = pathlib.Path(path)
  if not path.is_file():
    raise VideoFileError(f'No such video file: {path}')
  try:
    if path.suffix.lower() == '.npy':
      video = np.load(path)
    else:
      import imageio.v3 as iio
      video = iio.imread(path, index=None)
  except Exception as e:
    raise VideoFileError(f'Cannot decode video {path}: {e}') from e
  video = np.asarray(video)
  if video.ndim == 3:            # grayscale [T, H, W]
    video = video[..., None]
  if video.ndim != 4 or video.shape[0] == 0:
    raise VideoFileError(f'{path} is not a video: decoded shape {video.shape}.')
  if video.shape[-1] == 1:
    video = np.repeat(video, 3, axis=-1)
  elif video.shape[-1] == 4:     # RGBA gif frames
    video = video[..., :3]
  if video.dtype != np.uint8:
    raise VideoFileError(f'{path} decodes to {video.dtype}; expected uint8 frames.')
  return video
