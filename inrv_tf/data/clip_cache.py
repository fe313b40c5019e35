"""CLIP frame embeddings of the training videos, computed once and cached on disk.

    encoder = clip_encoder.load_clip_encoder(config.data.clip_weights)
    embeddings = load_embeddings(encoder, builder, config.data, num_videos)  # [N, T, 512]
    embeddings[np.array([3, 0])]                 # f32[2, T, 512], rows by video id

CLIP is frozen, so a video's frame embeddings never change: they are computed
once, in batches of frames, and kept in

    <TFDS data_dir>/inrv_clip_cache/<key>/shard_<start>_<stop>.npy   f32[stop - start, T, D]
    <TFDS data_dir>/inrv_clip_cache/<key>/key.json                   what the key hashes

The key hashes the dataset (name, builder config, version), the split, the
training size (frames, height, width), the encoder's weight fingerprint and
this module's format, so a cache of other data or weights is never read. Each
shard is written to a temporary file and renamed into place: an interrupted
build leaves whole shards only, and the next build computes just the missing
ones. Training reads the shards as memory maps.
"""

from __future__ import annotations

import hashlib
import json
import pathlib
import time
from typing import Callable

import numpy as np

from inrv_tf import config as config_lib
from inrv_tf import files
from inrv_tf.data import clip_encoder
from inrv_tf.data import pipeline as data_lib

CACHE_DIR = 'inrv_clip_cache'
# Bump when what a shard holds changes (preprocessing, layout): old caches stop matching.
FORMAT = 1
SHARD_VIDEOS = 64
BATCH_FRAMES = 64
LOG_SECONDS = 10.0


class ShardedEmbeddings:
  """f32[N, T, D] over memory-mapped shards of `shard_videos` videos each.

  Indexing takes an int or an int array of video ids (ids [0, N)).
  """

  def __init__(self, shards: list[np.ndarray], shard_videos: int):
    self.shards = shards
    self.shard_videos = shard_videos
    self.shape = (sum(len(s) for s in shards),) + tuple(shards[0].shape[1:])
    self.dtype = np.dtype(np.float32)

  def __len__(self) -> int:
    return self.shape[0]

  def __getitem__(self, ids) -> np.ndarray:
    ids = np.asarray(ids)
    if ids.size and (ids.min() < 0 or ids.max() >= len(self)):
      raise IndexError(f'video ids {ids} outside [0, {len(self)}).')
    flat = ids.reshape(-1)
    rows = [self.shards[i // self.shard_videos][i % self.shard_videos] for i in flat]
    out = np.stack(rows) if rows else np.zeros((0,) + self.shape[1:], np.float32)
    return out.reshape(ids.shape + self.shape[1:])

  def __array__(self, dtype=None, copy=None) -> np.ndarray:
    out = np.concatenate(self.shards)
    return out.astype(dtype) if dtype is not None else out


def load_encoder(config: config_lib.Config) -> clip_encoder.ClipImageEncoder | None:
  """The frozen CLIP image encoder of a Video-CLIP run (None without CLIP).

  Raises:
    clip_encoder.ClipWeightsError: unloadable weights, or embeddings of another
      width than the model's GRU takes.
  """
  if not config.model.clip:
    return None
  encoder = clip_encoder.load_clip_encoder(config.data.clip_weights)
  want = config.model.resolved_clip_embedding_dim
  if encoder.output_dim != want:
    raise clip_encoder.ClipWeightsError(
        f'The CLIP encoder of {config.data.clip_weights} gives {encoder.output_dim}-wide '
        f'embeddings; the model\'s GRU takes clip_embedding_dim={want}.')
  return encoder


def cache_key(builder, data: config_lib.DataConfig, fingerprint: str) -> tuple[str, dict]:
  """(key, the dict it hashes) for these videos embedded by these weights."""
  config = builder.builder_config.name if builder.builder_config else None
  what = {'dataset': builder.name, 'builder_config': config,
          'version': str(builder.version), 'split': data.split, 'frames': data.frames,
          'height': data.height, 'width': data.width, 'encoder': fingerprint,
          'format': FORMAT}
  digest = hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()
  return digest[:20], what


def cache_dir(builder, data: config_lib.DataConfig, fingerprint: str) -> pathlib.Path:
  """The cache folder, next to the prepared TFDS data."""
  key, _ = cache_key(builder, data, fingerprint)
  return pathlib.Path(builder.data_dir_root) / CACHE_DIR / key


def shard_ranges(num_videos: int, shard_videos: int) -> list[tuple[int, int]]:
  starts = range(0, num_videos, shard_videos)
  return [(s, min(s + shard_videos, num_videos)) for s in starts]


def shard_path(folder: pathlib.Path, start: int, stop: int) -> pathlib.Path:
  return folder / f'shard_{start:07d}_{stop:07d}.npy'


def embed_videos(encoder, builder, data: config_lib.DataConfig, start: int, stop: int,
                 batch_frames: int = BATCH_FRAMES) -> np.ndarray:
  """CLIP embeddings of videos start..stop - 1 at the training size.

  Returns:
    f32[stop - start, T, D], row i for video id start + i.
  """
  videos, ids = [], []
  for example in data_lib.load_videos(builder, data, stop, start=start):
    videos.append(example['video'].numpy())
    ids.append(int(example['video_id']))
  if ids != list(range(start, stop)):
    raise data_lib.DataError(
        f'Dataset {builder.name!r} split {data.split!r} does not hold video ids '
        f'{start}..{stop - 1} in order (got {ids[:5]}...): the embedding cache is '
        'indexed by video id.')
  frames = np.stack(videos)                                   # [n, T, H, W, 3]
  flat = frames.reshape((-1,) + frames.shape[2:])             # [n * T, H, W, 3]
  embeddings = encoder.embed(flat, batch_size=batch_frames)   # [n * T, D]
  return embeddings.reshape(frames.shape[:2] + embeddings.shape[1:])


def load_embeddings(encoder, builder, data: config_lib.DataConfig, num_videos: int,
                    log: Callable[[str], None] = print, shard_videos: int = SHARD_VIDEOS,
                    batch_frames: int = BATCH_FRAMES) -> ShardedEmbeddings:
  """The frame embeddings of the first `num_videos` videos, from the cache.

  Computes (and writes) only the shards that are not cached yet, logging
  progress; a cached shard is read, never recomputed.

  Args:
    encoder: a `clip_encoder.ClipImageEncoder` (its fingerprint keys the cache).
  Returns:
    ShardedEmbeddings f32[num_videos, data.frames, encoder.output_dim].
  """
  folder = cache_dir(builder, data, encoder.fingerprint)
  _, what = cache_key(builder, data, encoder.fingerprint)
  ranges = shard_ranges(num_videos, shard_videos)
  missing = [r for r in ranges if not shard_path(folder, *r).exists()]
  if missing:
    files.write_json(folder / 'key.json', what)
    _build_shards(encoder, builder, data, folder, missing, num_videos, log, batch_frames)
  shards = [np.load(shard_path(folder, *r), mmap_mode='r') for r in ranges]
  expected = (data.frames, encoder.output_dim)
  for r, shard in zip(ranges, shards):
    if shard.shape != (r[1] - r[0],) + expected or shard.dtype != np.float32:
      raise ValueError(f'{shard_path(folder, *r)} holds {shard.dtype}{list(shard.shape)}, '
                       f'not f32{[r[1] - r[0], *expected]}: delete it to recompute.')
  return ShardedEmbeddings(shards, shard_videos)


def _build_shards(encoder, builder, data, folder, missing, num_videos, log,
                  batch_frames) -> None:
  """Embeds and writes the missing shards, one progress line every LOG_SECONDS."""
  todo = sum(stop - start for start, stop in missing)
  log(f'CLIP embeddings: computing {todo} of {num_videos} videos '
      f'({data.frames} frames each) into {folder}')
  done, began, last_log = 0, time.perf_counter(), -LOG_SECONDS
  for start, stop in missing:
    embeddings = embed_videos(encoder, builder, data, start, stop, batch_frames)
    with files.atomic_path(shard_path(folder, start, stop)) as tmp:
      np.save(tmp, embeddings.astype(np.float32))
    done += stop - start
    elapsed = time.perf_counter() - began
    if elapsed - last_log >= LOG_SECONDS or done == todo:
      rate = done * data.frames / max(elapsed, 1e-9)
      log(f'CLIP embeddings: {done}/{todo} videos, {rate:.1f} frames/s, {elapsed:.0f} s')
      last_log = elapsed
