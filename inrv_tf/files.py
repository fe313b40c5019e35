"""Files: videos (.mp4 / .gif through imageio), PNG images, JSON and text, written atomically.

Every write goes to a temporary file beside the target and is renamed into
place, so a reader never sees half a file. A temporary file is hidden and
names its writer, `.<name>.tmp-<host>-<pid>-<random><suffix>`, so that what a
killed process left behind can be told from a live writer's (`temp_owner`;
`Workdir.clean_leftovers` removes a dead process's). Written files get the
usual mode, 0666 less the umask.

    write_video('out/a.mp4', video)              # uint8[T, H, W, 3] in one go
    with VideoWriter('out/long.mp4') as writer:  # or frame range by frame range
      for part in parts:
        writer.append(part)                      # uint8[t, H, W, 3]
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import re
import socket
import tempfile

import numpy as np

VIDEO_SUFFIXES = ('.mp4', '.gif')
_TEMP_NAME = re.compile(r'^\..+\.tmp-(?P<host>[A-Za-z0-9_]+)-(?P<pid>\d+)-[a-z0-9_]{8}'
                        r'(\.[^.]+)?$')


class VideoFileError(ValueError):
  """A video file that is missing, unreadable or of an unusable shape."""


class OutputError(ValueError):
  """An output path that cannot be written."""


# Temporary files -------------------------------------------------------------
def host_tag() -> str:
  """This host's name as temporary file names carry it ([A-Za-z0-9_], at most 32)."""
  return re.sub(r'[^A-Za-z0-9_]', '_', socket.gethostname())[:32] or 'host'


def temp_prefix(name: str) -> str:
  """The start of the temporary name of a file `name` written by this process.

  The name is cut to 100 characters, so that the temporary name stays a legal one.
  """
  return f'.{name[:100]}.tmp-{host_tag()}-{os.getpid()}-'


def temp_owner(name: str) -> tuple[str, int] | None:
  """(host tag, pid) of the writer of temporary file `name`; None for any other name."""
  match = _TEMP_NAME.match(name)
  return (match['host'], int(match['pid'])) if match else None


def default_mode() -> int:
  """0o666 less the umask: the mode open() gives a new file (mkstemp gives 0o600)."""
  try:
    with open('/proc/self/status') as status:
      for line in status:
        if line.startswith('Umask:'):
          return 0o666 & ~int(line.split()[1], 8)
  except (OSError, ValueError):
    pass
  mask = os.umask(0o022)   # Elsewhere: read the umask by setting it, then restore it.
  os.umask(mask)
  return 0o666 & ~mask


class _Temporary:
  """A temporary file beside `path`: `commit` renames it over `path`, `discard` drops it."""

  def __init__(self, path, suffix: str = ''):
    self.path = pathlib.Path(path)
    self.path.parent.mkdir(parents=True, exist_ok=True)
    fd, self.tmp = tempfile.mkstemp(prefix=temp_prefix(self.path.name),
                                    suffix=suffix or self.path.suffix, dir=self.path.parent)
    os.close(fd)

  def commit(self) -> None:
    os.chmod(self.tmp, default_mode())
    os.replace(self.tmp, self.path)

  def discard(self) -> None:
    if os.path.exists(self.tmp):
      os.remove(self.tmp)


@contextlib.contextmanager
def atomic_path(path, suffix: str = ''):
  """Yields a temporary path in the target's folder; renames it over `path` on success."""
  target = _Temporary(path, suffix)
  try:
    yield target.tmp
    target.commit()
  finally:
    target.discard()


def check_writable_dir(path, flag: str = '--out') -> pathlib.Path:
  """Makes folder `path` (and its parents) and checks that files can be written in it.

  Returns:
    The folder, as a pathlib.Path.
  Raises:
    OutputError naming the flag, the folder and why.
  """
  path = pathlib.Path(path)
  if path.exists() and not path.is_dir():
    raise OutputError(f'{flag} {path} exists and is not a folder.')
  try:
    path.mkdir(parents=True, exist_ok=True)
    fd, probe = tempfile.mkstemp(prefix=temp_prefix('write_check'), dir=path)
    os.close(fd)
    os.remove(probe)
  except OSError as e:
    raise OutputError(f'Cannot write to {flag} {path}: {e.strerror or e}.') from None
  return path


def check_writable_file(path, flag: str = '--out') -> pathlib.Path:
  """Checks that file `path` can be written (its folder is made); returns it."""
  path = pathlib.Path(path)
  if path.is_dir():
    raise OutputError(f'{flag} {path} is a folder; give a file name.')
  check_writable_dir(path.parent, flag)
  return path


# JSON and text ---------------------------------------------------------------
def write_json(path, obj) -> None:
  write_text(path, json.dumps(obj, indent=2, sort_keys=True) + '\n')


def write_text(path, text: str) -> None:
  with atomic_path(path) as tmp:
    pathlib.Path(tmp).write_text(text)


# Videos ----------------------------------------------------------------------
def _check_suffix(path) -> str:
  suffix = pathlib.Path(path).suffix.lower()
  if suffix not in VIDEO_SUFFIXES:
    raise ValueError(f'Unsupported video suffix {suffix!r}; use one of {VIDEO_SUFFIXES}.')
  return suffix


class VideoWriter:
  """Appends frames to one .mp4 (libx264) or .gif, by the suffix; renamed into place.

  A context manager: leaving it normally finishes the file and renames it over
  `path`; leaving it by an exception removes the temporary file. An .mp4's
  frames go straight to ffmpeg, so a long video never sits in memory; a .gif
  keeps its frames as 1-byte palette images until it is finished (Pillow
  writes a GIF whole). Frames whose sides are not multiples of 16 are written
  as they are (imageio is told not to resize them); an .mp4 with an odd side is
  written in yuv444p (yuv420p needs even sides; some players lack 4:4:4).
  """

  def __init__(self, path, fps: int = 10):
    self.path, self.fps = pathlib.Path(path), fps
    self._gif = _check_suffix(path) == '.gif'
    self._frames, self._shape, self._writer, self._file = [], None, None, None
    self._target = _Temporary(self.path)

  def __enter__(self) -> 'VideoWriter':
    return self

  def __exit__(self, kind, value, traceback) -> None:
    if kind is None:
      self.close()
    else:
      self._abort()

  def append(self, frames) -> None:
    """Appends uint8[t, H, W, 3] (every call the same H and W)."""
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
      raise ValueError(f'write_video needs uint8[T, H, W, 3], got {frames.dtype}'
                       f'{list(frames.shape)}.')
    if self._shape not in (None, frames.shape[1:]):
      raise ValueError(f'{self.path}: frames of {list(frames.shape[1:])} after frames of '
                       f'{list(self._shape)}.')
    self._shape = frames.shape[1:]
    if self._gif:
      from PIL import Image   # Deferred with imageio: only needed to write.
      # The conversion Pillow's GIF writer makes itself; done now, a frame
      # is kept as one byte a pixel instead of three.
      self._frames += [Image.fromarray(f).convert('P', palette=Image.Palette.ADAPTIVE)
                       for f in frames]
      return
    if self._writer is None:
      import imageio.v3 as iio  # Deferred: imageio-ffmpeg is only needed to write.
      self._file = iio.imopen(self._target.tmp, 'w', extension='.mp4', plugin='FFMPEG')
      # libx264 cannot halve the chroma of an odd side (it writes an empty file).
      even = frames.shape[1] % 2 == 0 and frames.shape[2] % 2 == 0
      self._writer = self._file.legacy_get_writer(
          fps=self.fps, macro_block_size=1, codec='libx264',
          pixelformat='yuv420p' if even else 'yuv444p', output_params=['-crf', '15'])
    for frame in frames:
      self._writer.append_data(frame)

  def close(self) -> None:
    """Finishes the file and renames it into place."""
    if self._shape is None:
      self._abort()
      raise ValueError(f'No frames were written to {self.path}.')
    try:
      if self._gif:
        first, *rest = self._frames
        self._frames = []
        first.save(self._target.tmp, format='GIF', save_all=bool(rest), append_images=rest,
                   duration=1000 / self.fps, loop=0)
      else:
        self._close_ffmpeg()
      self._target.commit()
    finally:
      self._target.discard()

  def _close_ffmpeg(self) -> None:
    writer, file, self._writer, self._file = self._writer, self._file, None, None
    if writer is not None:
      writer.close()
      file.close()

  def _abort(self) -> None:
    self._frames = []
    try:
      self._close_ffmpeg()
    finally:
      self._target.discard()


def write_video(path, video, fps: int = 10) -> None:
  """Writes uint8[T, H, W, 3] as .mp4 (libx264) or .gif, by the suffix (`VideoWriter`)."""
  video = np.asarray(video)
  if video.dtype != np.uint8 or video.ndim != 4 or video.shape[-1] != 3:
    raise ValueError(f'write_video needs uint8[T, H, W, 3], got {video.dtype}{list(video.shape)}.')
  _check_suffix(path)
  with VideoWriter(path, fps) as writer:
    writer.append(video)


def write_image(path, image) -> None:
  """Writes uint8[H, W, 3] as a PNG (imageio), atomically."""
  image = np.asarray(image)
  if image.dtype != np.uint8 or image.ndim != 3 or image.shape[-1] != 3:
    raise ValueError(f'write_image needs uint8[H, W, 3], got {image.dtype}{list(image.shape)}.')
  import imageio.v3 as iio
  with atomic_path(path, '.png') as tmp:
    iio.imwrite(tmp, image, extension='.png')


def ffmpeg_reason(error: BaseException) -> str:
  """One line from an imageio/ffmpeg exception, whose text holds ffmpeg's whole banner.

  The last two '[component @ 0x...] message' lines, else the last line.
  """
  lines = [line.strip() for line in str(error).splitlines() if line.strip()]
  messages = []
  for line in lines:
    match = re.match(r'^\[[^\]]+ @ 0x[0-9a-f]+\] (.*)$', line)
    if match and match.group(1) not in messages:
      messages.append(match.group(1))
  return '; '.join(messages[-2:]) if messages else (lines[-1] if lines else type(error).__name__)


def read_video(path, max_frames: int | None = None) -> np.ndarray:
  """Reads a video file (anything imageio's ffmpeg plugin reads, or .gif/.npy).

  Args:
    max_frames: decode at most this many frames (the rest is never read).
  Returns:
    uint8[T, H, W, 3].
  Raises:
    VideoFileError naming the file and the problem (ffmpeg's own output is
    cut to its message).
  """
  path = pathlib.Path(path)
  if not path.is_file():
    raise VideoFileError(f'No such video file: {path}')
  try:
    if path.suffix.lower() == '.npy':
      video = np.load(path, mmap_mode='r')
      video = np.array(video[:max_frames] if video.ndim else video)
    else:
      import imageio.v3 as iio
      frames = []
      for frame in iio.imiter(path):
        frames.append(frame)
        if len(frames) == max_frames:
          break
      video = np.stack(frames) if frames else np.zeros((0,), np.uint8)
  except Exception as e:  # pylint: disable=broad-except
    raise VideoFileError(f'Cannot decode video {path}: {ffmpeg_reason(e)}') from e
  return _check_frames(path, np.asarray(video))


def _check_frames(path, video: np.ndarray) -> np.ndarray:
  """Decoded frames -> uint8[T, H, W, 3] (grey repeated, alpha dropped), or VideoFileError."""
  if video.ndim == 3:            # grayscale [T, H, W]
    video = video[..., None]
  if video.ndim != 4 or video.shape[0] == 0 or video.shape[-1] not in (1, 3, 4):
    raise VideoFileError(f'{path} is not a video: decoded shape {video.shape} (a video '
                         'is [frames, height, width, 3], or 1 or 4 channels).')
  if video.dtype != np.uint8:
    raise VideoFileError(f'{path} decodes to {video.dtype}; expected uint8 frames.')
  if video.shape[-1] == 1:
    video = np.repeat(video, 3, axis=-1)
  elif video.shape[-1] == 4:     # RGBA gif frames
    video = video[..., :3]
  return video
