"""Rendering codes to videos at any size and length, in bounded pixel chunks.

    video = render_video(model, m, frames=50, height=256, width=256)  # f32[B, 50, 256, 256, 3]
    array = render_array(model, m, 50, 256, 256)       # the same as NumPy, without copies
    parts = iter_frames(model, m, 500, 1024, 1024)     # f32[B, t, 1024, 1024, 3] each
    videos = render_codes(model, codes, 25, 128, 128, batch_size=4)   # many codes, numpy
    grid = tile_videos(videos)                                        # one grid video

The hypernetwork runs once per code; the INR then runs over the pixels
chunk by chunk, each chunk's coordinates computed and encoded on the fly, so
memory grows with the chunk, not the video (only the output is video-sized;
`iter_frames` yields it a frame range at a time, for videos too large to hold).
"""

from __future__ import annotations

from typing import Iterator

import numpy as np
import tensorflow as tf

from inrv_tf import config as config_lib
from inrv_tf.model import encoding
from inrv_tf.model import grid
from inrv_tf.model import inr

_INT32_MAX = 2**31 - 1


class RenderSizeError(ValueError):
  """A render size or chunk that is not a positive integer, or too large."""


def render_range(params, start, stop, frames, height, width, num_frequencies: int,
                 chunk_pixels: int = config_lib.CHUNK_PIXELS,
                 compute_dtype=tf.float32) -> tf.Tensor:
  """Pixels [start, stop) of the flattened videos: f32[B, stop - start, C].

  A graph loop over chunks of `chunk_pixels`, each chunk's coordinates
  computed and encoded on the fly (the loop overlaps one chunk's encoding
  with another's matmuls). Graph-safe: every size may be a scalar tensor.
  """
  start = tf.convert_to_tensor(start, tf.int32)
  stop = tf.convert_to_tensor(stop, tf.int32)
  num_chunks = (stop - start + chunk_pixels - 1) // chunk_pixels
  channels = params[-1].shape[-1]
  chunks = tf.TensorArray(tf.float32, size=num_chunks, infer_shape=False,
                          element_shape=tf.TensorShape([None, None, channels]))
  for i in tf.range(num_chunks):
    lo = start + i * chunk_pixels
    index = tf.range(lo, tf.minimum(lo + chunk_pixels, stop))
    features = encoding.encode_position(
        grid.grid_from_index(index, frames, height, width), num_frequencies)
    rgb = inr.apply_inr(params, features, compute_dtype)     # [B, n, C]
    chunks = chunks.write(i, tf.transpose(rgb, [1, 0, 2]))   # [n, B, C]
  return tf.transpose(chunks.concat(), [1, 0, 2])            # [B, n, C]


def render_params(params, frames, height, width, num_frequencies: int,
                  chunk_pixels: int = config_lib.CHUNK_PIXELS,
                  compute_dtype=tf.float32) -> tf.Tensor:
  """Runs per-video INR parameters over a frames x height x width grid.

  Graph-safe (frames, height, width may be scalar tensors), so the exporter's
  signatures reuse it. In one graph the whole video is assembled from its
  chunks (a few video-sized copies); `render_array` avoids them.

  Args:
    params: [W0 f32[B, in, out], b0 f32[B, out], ...].
  Returns:
    f32[B, frames, height, width, C], values meant to lie in [-1, 1].
  """
  frames = tf.convert_to_tensor(frames, tf.int32)
  height = tf.convert_to_tensor(height, tf.int32)
  width = tf.convert_to_tensor(width, tf.int32)
  flat = render_range(params, 0, frames * height * width, frames, height, width,
                      num_frequencies, chunk_pixels, compute_dtype)
  channels = params[-1].shape[-1]
  return tf.reshape(flat, tf.stack([-1, frames, height, width, channels]))


@tf.function(reduce_retracing=True)
def _inr_params(model, m):
  return model.inr_params(m)


# render_array's unit of work: this many chunks per graph call (a few MB of
# output), so the graph loop overlaps chunks while the video is still written
# into its array only once.
CHUNKS_PER_CALL = 16
# iter_frames' unit: frame ranges of about this many pixels, all videos
# together (48 MB of float32 RGB), so a long or large video streams to disk.
PART_PIXELS = 1 << 22


_render_range = tf.function(render_range, reduce_retracing=True)


def check_size(frames, height, width, chunk_pixels=config_lib.CHUNK_PIXELS) -> None:
  """Raises RenderSizeError unless a render of this size can run.

  Sizes are positive integers (not bools or floats); one video's pixel count
  (plus a chunk) must fit the int32 pixel index of `render_params`.
  """
  config_lib.check_video_size(frames, height, width, RenderSizeError)
  if isinstance(chunk_pixels, bool) or not isinstance(chunk_pixels, (int, np.integer)) \
      or chunk_pixels <= 0:
    raise RenderSizeError(f'chunk_pixels must be a positive integer, got {chunk_pixels!r}.')
  total = int(frames) * int(height) * int(width)
  if total + int(chunk_pixels) > _INT32_MAX:
    raise RenderSizeError(
        f'{frames} x {height} x {width} = {total:,} pixels (plus a chunk of '
        f'{chunk_pixels:,}) is more than one render can index ({_INT32_MAX:,}).')


def output_size(data_config, frames=None, height=None, width=None) -> tuple:
  """(frames, height, width): the given ones, the training size where None."""
  given = (frames, height, width)
  trained = (data_config.frames, data_config.height, data_config.width)
  return tuple(t if g is None else g for g, t in zip(given, trained))


def _check_codes(model, m) -> tf.Tensor:
  m = tf.convert_to_tensor(m, tf.float32)
  latent_dim = model.model_config.latent_dim
  if m.shape.rank != 2 or m.shape[-1] != latent_dim:
    raise ValueError(f'Codes must be f32[B, {latent_dim}], got shape {m.shape}.')
  return m


def _fill(out: np.ndarray, params, first: int, last: int, size, num_frequencies: int,
          chunk_pixels: int, compute_dtype) -> None:
  """Writes pixels [first, last) of the flattened videos into out[:, :last - first]."""
  size = [tf.constant(n, tf.int32) for n in size]
  step = chunk_pixels * CHUNKS_PER_CALL
  for start in range(first, last, step):
    stop = min(start + step, last)
    out[:, start - first:stop - first] = _render_range(
        params, tf.constant(start, tf.int32), tf.constant(stop, tf.int32), *size,
        num_frequencies, int(chunk_pixels), compute_dtype).numpy()


def render_array(model, m, frames: int, height: int, width: int,
                 chunk_pixels: int = config_lib.CHUNK_PIXELS,
                 compute_dtype=tf.float32) -> np.ndarray:
  """Renders codes m f32[B, latent_dim] to a NumPy f32[B, frames, height, width, 3].

  The hypernetwork runs once; then each pixel chunk's colours are written
  straight into the output array, so the video exists once in memory (no
  list of chunks, concatenation, transpose or tensor-to-array copies).

  Raises:
    RenderSizeError (a ValueError): a size or chunk that is not a positive
      integer, or a video too large to index.
    ValueError: m is not f32[B, latent_dim].
  """
  check_size(frames, height, width, chunk_pixels)
  m = _check_codes(model, m)
  params = _inr_params(model, m)
  channels = params[-1].shape[-1]
  total = int(frames) * int(height) * int(width)
  out = np.empty((m.shape[0], total, channels), np.float32)
  _fill(out, params, 0, total, (frames, height, width), model.model_config.num_frequencies,
        chunk_pixels, compute_dtype)
  return out.reshape(-1, frames, height, width, channels)


def frames_per_part(num_videos: int, height: int, width: int,
                    part_pixels: int | None = None) -> int:
  """Frames of each part `iter_frames` yields: about part_pixels (PART_PIXELS), at least 1."""
  part_pixels = part_pixels or PART_PIXELS
  return max(1, int(part_pixels) // (int(num_videos) * int(height) * int(width)))


def iter_frames(model, codes, frames: int, height: int, width: int,
                chunk_pixels: int = config_lib.CHUNK_PIXELS, batch_size: int | None = None,
                part_pixels: int | None = None, compute_dtype=tf.float32
                ) -> Iterator[np.ndarray]:
  """Renders codes frame range by frame range, for videos too long to hold whole.

  Consecutive parts, concatenated on axis 1, are `render_array`'s videos (the
  same pixels, up to float rounding). The hypernetwork runs once per batch of
  `batch_size` codes (default: all); a part holds about `part_pixels` pixels of
  all the videos together (default PART_PIXELS), and at least one frame.

  Args:
    codes: f32[N, latent_dim].
  Yields:
    f32[N, t, height, width, 3], values meant to lie in [-1, 1]; t >= 1.
  """
  check_size(frames, height, width, chunk_pixels)
  codes = _check_codes(model, codes)
  n = int(codes.shape[0])
  batch_size = batch_size or n
  if n == 0 or batch_size <= 0:
    raise ValueError(f'iter_frames needs codes and a positive batch_size, got {n} codes '
                     f'and batch_size {batch_size}.')
  batches = [(i, _inr_params(model, codes[i:i + batch_size])) for i in range(0, n, batch_size)]
  channels = batches[0][1][-1].shape[-1]
  per_frame = int(height) * int(width)
  step = frames_per_part(n, height, width, part_pixels)
  for t0 in range(0, frames, step):
    t1 = min(t0 + step, frames)
    out = np.empty((n, (t1 - t0) * per_frame, channels), np.float32)
    for i, params in batches:
      _fill(out[i:i + batch_size], params, t0 * per_frame, t1 * per_frame,
            (frames, height, width), model.model_config.num_frequencies, chunk_pixels,
            compute_dtype)
    yield out.reshape(n, t1 - t0, height, width, channels)   # [N, t*H*W, C] -> [N, t, H, W, C]


def render_video(model, m, frames: int, height: int, width: int,
                 chunk_pixels: int = config_lib.CHUNK_PIXELS,
                 compute_dtype=tf.float32) -> tf.Tensor:
  """`render_array` as a tf.Tensor f32[B, frames, height, width, 3] (one more copy)."""
  return tf.convert_to_tensor(
      render_array(model, m, frames, height, width, chunk_pixels, compute_dtype))


def render_codes(model, codes, frames: int, height: int, width: int,
                 chunk_pixels: int = config_lib.CHUNK_PIXELS,
                 batch_size: int = 4) -> np.ndarray:
  """Renders many codes, `batch_size` videos at a time (memory stays bounded).

  Args:
    codes: f32[N, latent_dim].
  Returns:
    f32[N, frames, height, width, 3], values meant to lie in [-1, 1].
  """
  codes = np.asarray(codes, np.float32)
  if batch_size <= 0:
    raise ValueError(f'batch_size must be positive, got {batch_size}.')
  videos = [render_array(model, codes[i:i + batch_size], frames, height, width,
                         chunk_pixels)
            for i in range(0, len(codes), batch_size)]
  return np.concatenate(videos, axis=0)


def tile_videos(videos, columns: int | None = None, fill_last: bool = False) -> np.ndarray:
  """Tiles videos into one grid video, row-major, in a near-square grid.

  Args:
    videos: [N, T, H, W, C] (any dtype); columns: cells per row
      (default ceil(sqrt(N))).
    fill_last: cells past N repeat the last video (a walk that holds at its
      end); otherwise they are zero (black).
  Returns:
    [T, rows * H, columns * W, C], same dtype.
  """
  videos = np.asarray(videos)
  if videos.ndim != 5 or len(videos) == 0:
    raise ValueError(f'tile_videos needs [N >= 1, T, H, W, C], got {videos.shape}.')
  n, t, h, w, c = videos.shape
  columns = columns or int(np.ceil(np.sqrt(n)))
  rows = -(-n // columns)
  cells = np.zeros((rows * columns, t, h, w, c), videos.dtype)
  cells[:n] = videos
  if fill_last:
    cells[n:] = videos[-1]
  # [rows, columns, T, H, W, C] -> [T, rows, H, columns, W, C]
  grid = cells.reshape(rows, columns, t, h, w, c).transpose(2, 0, 3, 1, 4, 5)
  return grid.reshape(t, rows * h, columns * w, c)
