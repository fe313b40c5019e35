"""What every paper table is made of: the Table, and the videos it compares.

    table = Table('reconstruction', 'Table 1: ...', columns, rows, settings)
    print(table.format()); files.write_json(path, table.to_dict())

Videos are compared as uint8 frames on [0, 255] (a render is clipped and
rounded, as a saved video would be); real videos are read by id from the
workdir's TFDS dataset and resized as training resizes them.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from inrv_tf import config as config_lib
from inrv_tf.apps import inversion
from inrv_tf.data import pipeline
from inrv_tf.model import render

PAPER_TABLE = {'reconstruction': 1, 'fvd': 2, 'multires': 4, 'superres': 5, 'inversion': 6}
TEXT_KEYS = ('method', 'task')


@dataclasses.dataclass
class Table:
  """A table: columns (key, header) and rows of {key: value}, plus its settings."""
  name: str
  title: str
  columns: list
  rows: list
  settings: dict

  def to_dict(self) -> dict:
    return {'table': self.name, 'paper_table': PAPER_TABLE[self.name],
            'title': self.title, 'settings': self.settings, 'rows': self.rows,
            'columns': [{'key': k, 'header': h} for k, h in self.columns]}

  def format(self) -> str:
    """Aligned text: the title, a header line and one line per row."""
    cells = [[h for _, h in self.columns]]
    cells += [[_cell(k, row.get(k)) for k, _ in self.columns] for row in self.rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(self.columns))]
    left = [k in TEXT_KEYS for k, _ in self.columns]
    lines = ['  '.join(c.ljust(w) if l else c.rjust(w)
                       for c, w, l in zip(r, widths, left)).rstrip() for r in cells]
    return '\n'.join([self.title, *lines[:1], '-' * len(lines[0]), *lines[1:]])


def _cell(key: str, value) -> str:
  if value is None or (isinstance(value, float) and np.isnan(value)):
    return '-'
  if isinstance(value, str):
    return value
  digits = 3 if key.startswith(('ssim', 'gt_id', 'tl_id', 'tg_id')) else 2
  return f'{value:.{digits}f}'


def number(value):
  """A float for JSON, None for a missing or NaN value."""
  return None if value is None or np.isnan(value) else float(value)


# Videos ----------------------------------------------------------------------
def pick_ids(available: int, count: int, seed: int) -> list[int]:
  """`count` distinct ids of [0, available) chosen by `seed`, sorted (all if count >= available)."""
  if count >= available:
    return list(range(available))
  return sorted(int(i) for i in np.random.default_rng(seed).choice(available, count, replace=False))


def load_videos(builder, split: str, ids, frames: int, height: int, width: int,
                batch_size: int):
  """Yields the videos with these ids, in id order: uint8[b, frames, height, width, 3].

  Undecoded examples are filtered by id first, so a few videos of a large
  split cost a scan, not a decode, of the rest.
  """
  pipeline.check_size(builder, frames, height, width)
  ids = sorted(ids)
  contiguous = ids == list(range(ids[0], ids[-1] + 1))
  wanted = tf.constant(ids, tf.int64)
  feature = builder.info.features['video']

  def keep(example):
    return tf.reduce_any(tf.equal(example['video_id'], wanted))

  def decode(example):
    example = {'video': feature.decode_example(example['video']),
               'video_id': example['video_id']}
    return pipeline.preprocess(example, frames, height, width)['video']

  # Ids are positions in the split (every builder here): a range is a slice.
  first = ids[0] if contiguous else 0
  ds = builder.as_dataset(split=f'{split}[{first}:{ids[-1] + 1}]', shuffle_files=False,
                          decoders={'video': tfds.decode.SkipDecoding()})
  if not contiguous:
    ds = ds.filter(keep)
  ds = ds.map(decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  for batch in ds.batch(batch_size).prefetch(2):
    yield batch.numpy()


def render_uint8(model, codes, frames: int, height: int, width: int,
                 s: config_lib.EvalSettings, denoise=None) -> np.ndarray:
  """Renders codes to uint8[N, frames, height, width, 3] (clipped and rounded, as a
  saved video would be); `denoise(f32 videos) -> f32 videos` runs in between if given."""
  videos = render.render_codes(model, codes, frames, height, width, s.chunk_pixels,
                               s.batch_size)
  if denoise is not None:
    videos = denoise(videos)
  return pipeline.to_uint8(videos).numpy()


def bicubic_uint8(videos, height: int, width: int) -> np.ndarray:
  """Bicubic upsampling of uint8 videos [B, T, h, w, 3] -> uint8[B, T, height, width, 3]."""
  up = inversion.resize_frames(videos.astype(np.float32), height, width, 'bicubic')
  return np.clip(np.round(up), 0, 255).astype(np.uint8)


def render_size(s: config_lib.EvalSettings, config) -> tuple[int, int]:
  """(height, width) of a table's renders: --size, else the training size."""
  return (s.size, s.size) if s.size else (config.data.height, config.data.width)
