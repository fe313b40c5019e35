"""The videos of a folder: finding them, their digest, decoding them into clips.

    sources = list_sources(root)                 # sorted by relative path
    digest = folder_digest(root, sources)        # '3f2a...' (12 hex digits)
    report = SourceReport(sources[0].path)
    for clip in iter_clips(root, sources[0], frames=25, size=128, stride=1,
                           report=report):       # uint8[25, 128, 128, 3]
      ...

Nothing here raises for a bad file: decoding stops, and `report` says why.
"""

from __future__ import annotations

from collections.abc import Iterator
import contextlib
import dataclasses
import hashlib
import json
import logging as std_logging
import os
import re
from typing import Any

import imageio.v3 as iio
import numpy as np
from PIL import Image
import tensorflow as tf

VIDEO_EXTENSIONS = ('.mp4', '.mov', '.avi', '.mkv', '.webm')
GIF_EXTENSIONS = ('.gif',)
FRAME_EXTENSIONS = ('.png', '.jpg', '.jpeg')
# Kinds of source.
FFMPEG, GIF, FRAMES = 'ffmpeg', 'gif', 'frames'
# Hex digits of `folder_digest`.
DIGEST_LENGTH = 12
# imageio-ffmpeg gives a new ffmpeg 10 s to print the file's header, then fails
# with this message. When ffmpeg's banner is not in the stderr it quotes, ffmpeg
# never ran: it started too slowly (a busy machine), or the forked child died
# before it (seen in Beam's worker processes, after a gRPC line on stderr). Such
# a reader is opened again, up to this many times in all.
_NO_HEADER = 'Could not load meta information'
_STDERR_MARK = '=== stderr ==='
_FFMPEG_BANNER = 'ffmpeg version'
_FFMPEG_OPEN_ATTEMPTS = 3


@dataclasses.dataclass
class Source:
  """One video: `path` relative to the folder (POSIX), and its kind."""

  path: str
  kind: str


@dataclasses.dataclass
class SourceReport:
  """What decoding one source gave.

  Attributes:
    path: the source's path relative to the folder.
    frames: source frames decoded.
    clips: whole clips made.
    error: why decoding stopped before the end of the source ('' if it did
      not).
    note: something else worth reporting (e.g. fewer frames than the header
      announces).
  """

  path: str
  frames: int = 0
  clips: int = 0
  error: str = ''
  note: str = ''


def _natural_key(name: str) -> tuple[Any, ...]:
  """Sort key: 'frame10.png' after 'frame2.png' (digit runs compare as ints)."""
  parts = re.split(r'(\d+)', name)
  return tuple(int(p) if i % 2 else p for i, p in enumerate(parts)), name


def list_sources(root: os.PathLike | str) -> list[Source]:
  """Lists the videos under `root`, sorted by relative path.

  Args:
    root: the folder of videos (a local path).

  Returns:
    The sources, sorted by their POSIX path relative to `root`. A frame folder's
    path is the folder's ('.' for `root` itself). Symlinked folders are
    followed (each real folder once); names starting with '.' are ignored.
  """
  root = os.fspath(root)
  sources, seen = [], set()
  for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
    real = os.path.realpath(dirpath)
    if real in seen:  # A symlink loop, or a folder linked twice.
      dirnames[:] = []
      continue
    seen.add(real)
    dirnames[:] = [d for d in dirnames if not d.startswith('.')]
    rel_dir = os.path.relpath(dirpath, root)
    has_frames = False
    for filename in filenames:
      if filename.startswith('.'):
        continue
      ext = os.path.splitext(filename)[1].lower()
      rel = os.path.normpath(os.path.join(rel_dir, filename))
      rel = rel.replace(os.sep, '/')
      if ext in VIDEO_EXTENSIONS:
        sources.append(Source(rel, FFMPEG))
      elif ext in GIF_EXTENSIONS:
        sources.append(Source(rel, GIF))
      elif ext in FRAME_EXTENSIONS:
        has_frames = True
    if has_frames:
      sources.append(Source(rel_dir.replace(os.sep, '/'), FRAMES))
  return sorted(sources, key=lambda s: s.path)


def frame_names(path: str) -> list[str]:
  """The image files of a frame folder, in natural numeric order."""
  names = [
      n
      for n in os.listdir(path)
      if not n.startswith('.')
      and os.path.splitext(n)[1].lower() in FRAME_EXTENSIONS
      and os.path.isfile(os.path.join(path, n))
  ]
  return sorted(names, key=_natural_key)


def folder_digest(root: os.PathLike | str, sources: list[Source]) -> str:
  """A digest of what the build would read: cheap, no file is opened.

  Args:
    root: the folder of videos.
    sources: `list_sources(root)`.

  Returns:
    DIGEST_LENGTH lower-case hex digits of the sha256 of every source's
    relative path and kind, and the byte size and mtime (ns) of each of its
    files (a frame folder's frames, in order). Adding, removing, replacing or
    touching a video changes it; moving the whole folder does not.
  """
  root = os.fspath(root)
  entries = []
  for source in sources:
    path = os.path.join(root, source.path)
    if source.kind == FRAMES:
      files = [os.path.join(path, n) for n in frame_names(path)]
    else:
      files = [path]
    stats = []
    for file in files:
      try:
        stat = os.stat(file)
        stats.append([os.path.basename(file), stat.st_size, stat.st_mtime_ns])
      except OSError as e:  # Gone since it was listed: still a change.
        stats.append([os.path.basename(file), type(e).__name__])
    entries.append([source.path, source.kind, stats])
  text = json.dumps(entries, separators=(',', ':'))
  return hashlib.sha256(text.encode()).hexdigest()[:DIGEST_LENGTH]


def center_square(frame: np.ndarray) -> np.ndarray:
  """Crops uint8[H, W, C] to its centred uint8[S, S, C], S = min(H, W)."""
  h, w = frame.shape[:2]
  side = min(h, w)
  top, left = (h - side) // 2, (w - side) // 2
  return frame[top : top + side, left : left + side]


def to_rgb(frame: np.ndarray) -> np.ndarray:
  """uint8[H, W], [H, W, 1], [H, W, 3] or [H, W, 4] -> uint8[H, W, 3]."""
  if frame.ndim == 2:
    frame = frame[..., None]
  if frame.shape[-1] == 1:
    return np.repeat(frame, 3, axis=-1)
  return frame[..., :3]


def resize_frame(frame: np.ndarray, size: int) -> np.ndarray:
  """Centre crop and antialiased bilinear resize to uint8[size, size, 3]."""
  square = center_square(to_rgb(np.asarray(frame)))
  resized = tf.image.resize(square, (size, size), antialias=True).numpy()
  return np.clip(np.round(resized), 0, 255).astype(np.uint8)


def _ffmpeg_reason(error: BaseException) -> str:
  """A one-line reason from an imageio/ffmpeg exception.

  ffmpeg's messages hold its whole banner; keep the last two messages of its
  '[demuxer @ 0x...] message' lines, else the last line.
  """
  lines = [l.strip() for l in str(error).splitlines()
           if l.strip() and l.strip() != _STDERR_MARK]
  if not lines:
    return type(error).__name__
  messages = []
  for line in lines:
    match = re.match(r'^\[[^\]]+ @ 0x[0-9a-f]+\] (.*)$', line)
    if match and match.group(1) not in messages:
      messages.append(match.group(1))
  reason = '; '.join(messages[-2:]) if messages else lines[-1]
  return f'{type(error).__name__}: {reason}'


@contextlib.contextmanager
def _quiet_imageio_ffmpeg():
  """Silences imageio-ffmpeg's Python-side warnings (e.g. rotated frames).

  ffmpeg's own stderr is already captured by imageio-ffmpeg and ends up, if
  anywhere, in the exception message.
  """
  logger = std_logging.getLogger('imageio_ffmpeg')
  level = logger.level
  logger.setLevel(std_logging.ERROR)
  try:
    yield
  finally:
    logger.setLevel(level)


def _open_reader(file):
  """`file.legacy_get_reader()`, opened again if ffmpeg never ran."""
  for attempt in range(_FFMPEG_OPEN_ATTEMPTS):
    try:
      return file.legacy_get_reader()
    except OSError as e:
      head, _, stderr = str(e).partition(_STDERR_MARK)
      never_ran = head.startswith(_NO_HEADER) and _FFMPEG_BANNER not in stderr
      if not never_ran or attempt == _FFMPEG_OPEN_ATTEMPTS - 1:
        raise


def _iter_ffmpeg(path: str, report: SourceReport) -> Iterator[np.ndarray]:
  """Streams uint8[H, W, 3] frames of a video file with imageio's FFMPEG.

  Notes in `report` when the file ends well before the length its header
  announces (a cut-off .mkv, .webm or faststart .mp4 just ends early).
  """
  num_frames = 0
  with _quiet_imageio_ffmpeg(), iio.imopen(path, 'r', plugin='FFMPEG') as file:
    reader = _open_reader(file)  # One ffmpeg process, closed below.
    try:
      meta = reader.get_meta_data()
      for frame in reader:
        num_frames += 1
        yield frame
    finally:
      reader.close()
  try:
    expected = round(float(meta['duration']) * float(meta['fps']))
  except (KeyError, TypeError, ValueError, OverflowError):
    return
  if num_frames < 0.95 * expected - 2:
    report.note = (
        f'decoded {num_frames} frames where its header announces about'
        f' {expected} (truncated file?)'
    )


def _iter_gif(path: str) -> Iterator[np.ndarray]:
  """Streams uint8[H, W, 3] frames of a GIF with imageio's pillow plugin."""
  yield from iio.imiter(path, plugin='pillow', mode='RGB')


def _iter_frame_folder(path: str) -> Iterator[np.ndarray]:
  """Reads the images of a folder in natural numeric order of their names."""
  for name in frame_names(path):
    try:
      with Image.open(os.path.join(path, name)) as image:
        frame = np.asarray(image.convert('RGB'))
    except Exception as e:  # pylint: disable=broad-except
      raise ValueError(f'cannot read frame {name}: {e}') from e
    yield frame


def iter_clips(
    root: str,
    source: Source,
    frames: int,
    size: int,
    stride: int,
    report: SourceReport,
) -> Iterator[np.ndarray]:
  """Cuts one source into clips; never raises for a bad file.

  Args:
    root: the folder of videos.
    source: the source to decode.
    frames: T, frames per clip.
    size: side of the output frames.
    stride: keep every stride-th source frame.
    report: filled in with the frames decoded, clips made and the error that
      stopped decoding, if any.

  Yields:
    uint8[frames, size, size, 3]; clip k holds source frames
    k * frames * stride + j * stride, j = 0..frames-1.
  """
  path = os.path.join(root, source.path)
  span = frames * stride
  buffer = []
  try:
    if source.kind != FRAMES and os.path.getsize(path) == 0:
      report.error = 'empty file (0 bytes)'
      return
    if source.kind == FFMPEG:
      stream = _iter_ffmpeg(path, report)
    elif source.kind == GIF:
      stream = _iter_gif(path)
    else:
      stream = _iter_frame_folder(path)
    for frame in stream:
      n = report.frames
      report.frames += 1
      if n % stride == 0:
        buffer.append(resize_frame(frame, size))
      if (n + 1) % span == 0:  # The clip's span of source frames is complete.
        clip = np.stack(buffer)
        buffer = []
        report.clips += 1
        yield clip
  except Exception as e:  # pylint: disable=broad-except
    # A bad file must not stop the build: record why decoding stopped.
    report.error = (
        _ffmpeg_reason(e) if source.kind == FFMPEG else
        f'{type(e).__name__}: {e}'
    )


def skip_reason(report: SourceReport, frames: int, stride: int) -> str:
  """Why a source gave no clip (`report.clips == 0`)."""
  needed = frames * stride
  if report.error and not report.frames:
    return f'cannot decode: {report.error}'
  why = (
      f'{report.frames} frames; a clip needs {needed}'
      f' ({frames} frames x stride {stride})'
  )
  if report.error:
    why = f'decoding stopped after {why}: {report.error}'
  elif report.note:
    why = f'{why}; {report.note}'
  return why
