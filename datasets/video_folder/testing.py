"""Folders of videos for the tests: every kind of source, good and bad.

    write_folder(root)      # GOOD: 2 .mp4, a .gif, a frame folder; BAD: 4
    write_bad_files(root)   # only the BAD ones
    frames = frame_pattern(10, 32, 96, green=40, bands='x')  # [10, 32, 96, 3]

Every source has its own green level and a blue ramp over its source frames
(blue = blue_level(t)), so a clip tells which source and which frames it came
from after the resize. The two .mp4 videos with a crop carry pure red bands
outside their centred square: any red in a clip means a wrong crop. Used by
this folder's tests and by the repository's tests/videos_test.py.
"""

from __future__ import annotations

import pathlib

import imageio.v3 as iio
import numpy as np
from PIL import Image

from . import sources

# Codec error of libx264 (yuv420) on flat colours, and GIF's palette.
ATOL = 10


def blue_level(t: int) -> int:
  """Blue of source frame t: a ramp, distinct for t < 16."""
  return (20 + 15 * t) % 256


def frame_pattern(num_frames, h, w, green, bands=None):
  """uint8[T, h, w, 3]: (0, green, blue_level(t)); bands='x' or 'y' in red.

  With bands, the two thirds outside the centred min(h, w) square are
  (255, 0, 0); band edges sit on 16-pixel codec blocks in the tests.
  """
  frames = np.zeros((num_frames, h, w, 3), np.uint8)
  for t in range(num_frames):
    frames[t] = (0, green, blue_level(t))
  if bands == 'x':
    side = (w - h) // 2
    frames[:, :, :side] = frames[:, :, w - side :] = (255, 0, 0)
  elif bands == 'y':
    side = (h - w) // 2
    frames[:, :side] = frames[:, h - side :] = (255, 0, 0)
  return frames


def write_mp4(path: pathlib.Path, frames: np.ndarray):
  path.parent.mkdir(parents=True, exist_ok=True)
  iio.imwrite(path, frames, plugin='FFMPEG', fps=25, codec='libx264',
              macro_block_size=1, quality=10)


# (relative path, green, source frames, clips); sorted-path order = id order.
GOOD = [
    ('a_land.mp4', 40, 10, 2),   # 32 x 96 landscape, red side bands.
    ('anim.gif', 90, 9, 2),
    ('frames', 140, 10, 2),      # frame_1.png .. frame_10.png.
    ('sub/port.mp4', 190, 13, 3),  # 96 x 32 portrait, red top/bottom bands.
]
BAD = {  # path -> words its reason must hold.
    'empty.mp4': 'empty file',
    'notes.mp4': 'cannot decode',
    'short.mp4': '3 frames; a clip needs 4',
    'trunc.mp4': 'moov atom not found',
}


def write_folder(root: pathlib.Path):
  """Writes the GOOD and BAD sources under root."""
  write_mp4(root / 'a_land.mp4', frame_pattern(10, 32, 96, 40, bands='x'))
  iio.imwrite(root / 'anim.gif', frame_pattern(9, 20, 20, 90), duration=40,
              loop=0)
  (root / 'frames').mkdir()
  for t, frame in enumerate(frame_pattern(10, 24, 30, 140)):
    Image.fromarray(frame).save(root / 'frames' / f'frame_{t + 1}.png')
  write_mp4(root / 'sub/port.mp4', frame_pattern(13, 96, 32, 190, bands='y'))
  write_bad_files(root)


def write_bad_files(root: pathlib.Path):
  root.mkdir(parents=True, exist_ok=True)
  (root / 'empty.mp4').write_bytes(b'')
  (root / 'notes.mp4').write_text('Remember to film the jellyfish.\n' * 20)
  write_mp4(root / 'short.mp4', frame_pattern(3, 32, 32, 60))
  write_mp4(root / 'full.mp4', frame_pattern(20, 32, 32, 60))
  data = (root / 'full.mp4').read_bytes()  # Its index (moov) is at the end.
  (root / 'trunc.mp4').write_bytes(data[: len(data) // 2])
  (root / 'full.mp4').unlink()
  (root / '.hidden.mp4').write_bytes(b'')  # Ignored: starts with a dot.


def frame_folder(root: pathlib.Path, num_frames: int) -> sources.Source:
  """Writes 000.png, 001.png, ... of frame_pattern(num_frames, 8, 8, 100)."""
  root.mkdir(parents=True, exist_ok=True)
  for t, frame in enumerate(frame_pattern(num_frames, 8, 8, 100)):
    Image.fromarray(frame).save(root / f'{t:03d}.png')
  return sources.Source('.', sources.FRAMES)
