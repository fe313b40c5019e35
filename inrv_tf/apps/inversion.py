"""Inversion: fit one code m per video to its visible pixels, the model frozen.

    mask = make_mask('inpainting', frames=25, height=32, width=32)   # bool[T, H, W]
    result = invert(model, videos, mask, steps=500)                  # result.codes f32[B, D]
    full = render.render_video(model, result.codes, 25, 32, 32)      # the whole video back
    scores = score(full, videos, mask)             # {'psnr': [...], 'ssim': ..., 'context_l1': ...}

Paper Section 5.3, equations 7 and 8: argmin over m of the mean error on the
S visible pixels, the hypernetwork and INR fixed. Only the code variable is
optimised (Adam, lr 1e-2); a hidden pixel never enters the loss, so it has no
influence at all on the result. m starts at the mean of the learned codes
(`init='mean'`; 'zeros' and 'random', a draw from the Gaussian fitted to the
learned codes, are the alternatives). Superresolution inverts a small video
and renders the code at a larger size (`superresolve`).
"""

from __future__ import annotations

import dataclasses
import time
import weakref
from typing import Callable

import keras
import numpy as np
import tensorflow as tf

from inrv_tf import config as config_lib
from inrv_tf import progress as progress_lib
from inrv_tf.apps import sampling
from inrv_tf.data import pipeline
from inrv_tf.model import encoding
from inrv_tf.model import inr
from inrv_tf.model import losses
from inrv_tf.model import metrics
from inrv_tf.model import render

TASKS = config_lib.INVERSION_TASKS
INITS = config_lib.INVERSION_INITS
_DEFAULTS = config_lib.InversionSettings()   # The paper's steps, lr, loss and start.
# What the tasks show (paper Section 5.3): these define the tasks, not settings.
PREDICTION_FRAMES = 4           # frame_prediction sees the first 4 frames.
SPARSE_FRACTION = 0.25          # sparse_inpainting sees 25% of all pixels.


class InversionError(ValueError):
  """A video, mask, task or setting that inversion cannot use."""


# Masks: pure functions of (frames, height, width, seed) -> bool[T, H, W] -------
def full_mask(frames, height, width, seed=0) -> np.ndarray:
  """Every pixel visible (inversion; superresolution at the low size)."""
  return np.ones((frames, height, width), bool)


def inpainting_mask(frames, height, width, seed=0) -> np.ndarray:
  """The top half (height // 2 rows) of every frame visible."""
  if height < 2:
    raise InversionError(f'inpainting needs a height of at least 2, got {height}.')
  mask = np.zeros((frames, height, width), bool)
  mask[:, :height // 2] = True
  return mask


def frame_prediction_mask(frames, height, width, seed=0) -> np.ndarray:
  """The first 4 frames visible; the rest are predicted."""
  if frames <= PREDICTION_FRAMES:
    raise InversionError(f'frame_prediction shows the first {PREDICTION_FRAMES} '
                         f'frames and predicts the rest: it needs more than '
                         f'{PREDICTION_FRAMES} frames, got {frames}.')
  mask = np.zeros((frames, height, width), bool)
  mask[:PREDICTION_FRAMES] = True
  return mask


def frame_interpolation_mask(frames, height, width, seed=0) -> np.ndarray:
  """The first and last frames visible; the frames between are filled in."""
  if frames < 3:
    raise InversionError(f'frame_interpolation needs at least 3 frames, got {frames}.')
  mask = np.zeros((frames, height, width), bool)
  mask[[0, -1]] = True
  return mask


def sparse_inpainting_mask(frames, height, width, seed=0) -> np.ndarray:
  """round(25%) of all pixels visible, chosen at random by `seed`."""
  total = frames * height * width
  visible = max(1, int(round(SPARSE_FRACTION * total)))
  mask = np.zeros(total, bool)
  mask[np.random.default_rng(seed).permutation(total)[:visible]] = True
  return mask.reshape(frames, height, width)


_MASKS = {'inversion': full_mask, 'inpainting': inpainting_mask,
          'frame_prediction': frame_prediction_mask,
          'frame_interpolation': frame_interpolation_mask,
          'sparse_inpainting': sparse_inpainting_mask,
          'superresolution': full_mask}


def check_task(task: str) -> str:
  if task not in _MASKS:
    raise InversionError(f'Unknown task {task!r}; expected one of {", ".join(TASKS)}.')
  return task


def make_mask(task: str, frames: int, height: int, width: int, seed: int = 0) -> np.ndarray:
  """The visible pixels of a task (DESIGN.md): bool[frames, height, width]."""
  config_lib.check_video_size(frames, height, width, InversionError)
  return _MASKS[check_task(task)](frames, height, width, seed)


# Checks ----------------------------------------------------------------------
def check_videos(videos) -> np.ndarray:
  """Float videos in [-1, 1] as f32[B, T, H, W, 3] (a single [T, H, W, 3] gets B = 1)."""
  videos = np.asarray(videos)
  if not np.issubdtype(videos.dtype, np.floating):
    raise InversionError(f'Videos must be floating point in [-1, 1], got {videos.dtype} '
                         '(uint8 frames: convert with inrv_tf.data.to_float).')
  if videos.ndim == 4:
    videos = videos[None]
  if videos.ndim != 5 or videos.shape[-1] != 3 or 0 in videos.shape:
    raise InversionError(f'Videos must be f32[B, T, H, W, 3] (or [T, H, W, 3]), got '
                         f'shape {videos.shape}.')
  if not np.all(np.isfinite(videos)):
    raise InversionError('Videos hold NaN or infinite values.')
  low, high = float(videos.min()), float(videos.max())
  if low < -1.0 - 1e-3 or high > 1.0 + 1e-3:
    raise InversionError(f'Videos must lie in [-1, 1], got values in [{low:.3g}, '
                         f'{high:.3g}] (uint8 frames: use inrv_tf.data.to_float).')
  return videos.astype(np.float32)


def check_mask(mask, shape) -> np.ndarray:
  """A bool[T, H, W] mask of the videos' (T, H, W) with a visible pixel."""
  mask = np.asarray(mask)
  if mask.dtype != bool:
    if not np.all((mask == 0) | (mask == 1)):
      raise InversionError('A mask holds only 0/1 (or bool) values.')
    mask = mask.astype(bool)
  if mask.shape != tuple(shape):
    raise InversionError(f'The mask is {mask.shape} but the videos are {tuple(shape)} '
                         '(frames, height, width).')
  if not mask.any():
    raise InversionError('The mask is empty: no visible pixel to invert from.')
  return mask


def center_crop_box(height: int, width: int, aspect_height: int, aspect_width: int
                    ) -> tuple[int, int, int, int]:
  """(top, left, crop height, crop width): the largest centred crop of a height x width
  frame with the aspect ratio aspect_height : aspect_width (the whole frame if it has it)."""
  if height * aspect_width > width * aspect_height:      # Too tall: crop rows.
    crop_h, crop_w = max(1, round(width * aspect_height / aspect_width)), width
  else:                                                  # Too wide: crop columns.
    crop_h, crop_w = height, max(1, round(height * aspect_width / aspect_height))
  return (height - crop_h) // 2, (width - crop_w) // 2, crop_h, crop_w


def prepare_video(video, frames: int, height: int, width: int, name: str = 'The video',
                  log: Callable[[str], None] | None = None) -> np.ndarray:
  """A uint8 video file's frames -> the first `frames`, cropped, resized, f32 in [-1, 1].

  A video of another aspect ratio than height : width (a portrait clip for a
  square model) is first cropped to its centred part of that ratio, which is
  logged, so that it is resized without being squashed.

  Args:
    video: uint8[T, H, W, 3] (or [T, H, W, 1]) with T >= frames.
    name: what errors and the log call the video (e.g. its file).
  Returns:
    f32[frames, height, width, 3] in [-1, 1].
  """
  video = np.asarray(video)
  if video.dtype != np.uint8:
    raise InversionError(f'{name} must decode to uint8 frames, got {video.dtype}.')
  if video.ndim != 4 or video.shape[-1] not in (1, 3):
    raise InversionError(f'{name} must be uint8[T, H, W, 3], got shape {video.shape}.')
  if video.shape[0] < frames:
    raise InversionError(f'{name} has {video.shape[0]} frames; this model renders '
                         f'{frames}-frame videos, so it needs at least {frames}.')
  full_h, full_w = video.shape[1:3]
  top, left, crop_h, crop_w = center_crop_box(full_h, full_w, height, width)
  if (crop_h, crop_w) != (full_h, full_w):
    video = video[:, top:top + crop_h, left:left + crop_w]
    if log:
      log(f'{name} is {full_h} x {full_w}: cropped to its centred {crop_h} x {crop_w} '
          f'(rows {top}-{top + crop_h - 1}, columns {left}-{left + crop_w - 1}), the '
          f'aspect of the model\'s {height} x {width}, so that resizing does not squash it.')
  return pipeline.to_float(pipeline.resize_video(video, frames, height, width)).numpy()


# Optimisation ----------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Inversion:
  """The result of `invert`.

  Attributes:
    codes: f32[B, latent_dim], the fitted m.
    losses: f32[steps, B], each video's loss before each update.
    seconds: wall time of the optimisation (the whole batch, first trace included).
  """
  codes: np.ndarray
  losses: np.ndarray
  seconds: float

  @property
  def steps(self) -> int:
    return int(self.losses.shape[0])


def initial_codes(model, batch: int, init: str = 'mean', seed: int = 0,
                  codes=None) -> np.ndarray:
  """Starting m f32[batch, latent_dim] for `init` in INITS.

  'mean' and 'random' (a draw from the Gaussian fitted to them) use `codes`,
  by default the learned codes; a Video-CLIP model has none yet (use 'zeros').
  """
  dim = model.model_config.latent_dim
  if init == 'zeros':
    return np.zeros((batch, dim), np.float32)
  if init not in INITS:
    raise InversionError(f'Unknown init {init!r}; expected one of {INITS}.')
  if codes is None:
    try:
      codes = sampling.learned_codes(model)
    except sampling.SamplingError as e:
      raise InversionError(f"{e} Start from init='zeros', or pass codes.") from e
  codes = sampling.check_codes(codes)
  if init == 'mean':
    return np.tile(codes.mean(axis=0, keepdims=True), (batch, 1))
  return sampling.gaussian_samples(codes, batch, seed)


def make_step(model, code: tf.Variable, optimizer, loss_fn: Callable,
              chunk_pixels: int) -> Callable:
  """One Adam update of `code`: step(features f32[S, F], target f32[B, S, 3]) -> f32[B].

  The visible pixels go through the INR in chunks whose gradients are summed,
  so memory is bounded by the chunk, not S. Each chunk's mean loss is weighted
  by its share of S, so the sum is the mean over all visible pixels. Traced once
  for any S (a None dimension), so videos of any size and mask reuse it.
  """
  batch, features_dim = code.shape[0], model.spec.in_features

  @tf.function(input_signature=[tf.TensorSpec([None, features_dim], tf.float32),
                                tf.TensorSpec([batch, None, 3], tf.float32)])
  def step(features, target):
    # The hypernetwork runs once per step; only the INR goes chunk by chunk.
    with tf.GradientTape() as tape:
      params = model.inr_params(code)
    per_video, _, param_grads = inr.chunked_inr_grads(
        params, features, target, loss_fn, chunk_pixels)   # Codes are independent.
    grad = tape.gradient(params, code, output_gradients=param_grads)
    optimizer.apply_gradients([(grad, code)])
    return per_video

  return step


def invert(model, videos, mask, steps: int = _DEFAULTS.steps, lr: float = _DEFAULTS.lr,
           loss: str = _DEFAULTS.loss, init: str = _DEFAULTS.init, seed: int = 0,
           codes=None, chunk_pixels: int = config_lib.CHUNK_PIXELS,
           log: Callable[[str], None] | None = None, log_every: int = 100
           ) -> Inversion:
  """Fits one code per video to the visible pixels; the model is not changed.

  Args:
    videos: f32[B, T, H, W, 3] in [-1, 1], any size (the INR is continuous);
      all B videos are optimised together, each with its own code.
    mask: bool[T, H, W], the visible pixels (shared by the batch).
    steps: Adam updates. lr: Adam learning rate (the paper's 1e-2).
    loss: 'l2' (equations 7, 8), 'l1' or 'weighted_l2'.
    init: 'mean' | 'zeros' | 'random' (see `initial_codes`; `codes` overrides
      the learned codes those are taken from).
    chunk_pixels: visible pixels per INR pass (bounds memory; B videos each).
  Returns:
    Inversion (codes f32[B, latent_dim], loss history, seconds).
  """
  videos = check_videos(videos)
  mask = check_mask(mask, videos.shape[1:4])
  if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
    raise InversionError(f'steps must be a positive integer, got {steps!r}.')
  if not lr > 0:
    raise InversionError(f'lr must be positive, got {lr}.')
  render.check_size(*videos.shape[1:4], chunk_pixels)
  losses.get(loss)                     # An unknown loss fails before anything runs.
  frames, height, width = videos.shape[1:4]
  visible = mask.reshape(-1)
  features = encoding.encoded_grid(frames, height, width,
                                   model.model_config.num_frequencies)[visible]
  target = videos.reshape(len(videos), -1, 3)[:, visible]          # [B, S, 3]
  code, optimizer, step = _solver(model, len(videos), loss, int(chunk_pixels))
  code.assign(initial_codes(model, len(videos), init, seed, codes))
  _reset(optimizer, lr)
  features, target = tf.constant(features), tf.constant(target)
  history, start = [], time.perf_counter()
  progress = progress_lib.Progress(int(steps), unit='step', log=None)
  for i in range(int(steps)):
    history.append(step(features, target).numpy())
    progress.update(i + 1)
    if log and ((i + 1) % log_every == 0 or i + 1 == steps):
      log(f'step {i + 1}/{steps} loss {float(np.mean(history[-1])):.5f} {progress.suffix()}')
  return Inversion(code.numpy(), np.stack(history), time.perf_counter() - start)


# One traced step per (model, batch, loss, chunk): later inversions reuse it.
_SOLVERS = weakref.WeakKeyDictionary()


def _solver(model, batch: int, loss: str, chunk_pixels: int):
  """(code variable f32[batch, latent_dim], Adam, the step) for this model, kept.

  Tracing the step takes seconds at the paper's size; every `invert` call of
  the same model, batch, loss and chunk reuses it, its code variable and its
  optimizer (reset by the caller). Only `code` is handed to the optimizer, so
  the hypernetwork stays frozen.
  """
  solvers = _SOLVERS.setdefault(model, {})
  key = (batch, loss, chunk_pixels)
  if key not in solvers:
    code = tf.Variable(tf.zeros([batch, model.model_config.latent_dim]), name='m')
    optimizer = keras.optimizers.Adam(epsilon=config_lib.ADAM_EPSILON)
    optimizer.build([code])
    solvers[key] = (code, optimizer, make_step(model, code, optimizer, losses.get(loss),
                                               chunk_pixels))
  return solvers[key]


def _reset(optimizer, lr: float) -> None:
  """A fresh Adam at `lr`: step 0, zero moments (the variables the step captured)."""
  optimizer.learning_rate = lr
  for variable in optimizer.variables:
    variable.assign(tf.zeros_like(variable))
  optimizer.learning_rate = lr


# Scores ----------------------------------------------------------------------
def _unit(video) -> tf.Tensor:
  """f32 [-1, 1] (clipped) -> [0, 1]."""
  return (tf.clip_by_value(tf.convert_to_tensor(video, tf.float32), -1.0, 1.0) + 1.0) / 2.0


def context_l1(pred, target, mask) -> np.ndarray:
  """L1 on the visible pixels, on a 0-100 pixel scale (paper Table 6): f32[B].

  Args:
    pred, target: f32[B, T, H, W, 3] in [-1, 1]. mask: bool[T, H, W].
  """
  return metrics.context_l1(pred, target, mask, max_val=2.0).numpy()


def score(pred, target, mask=None) -> dict[str, list]:
  """Per-video PSNR, SSIM (both on [0, 1], whole video) and Context-L1.

  SSIM is None for frames under 11 x 11 (its window); Context-L1 needs a mask.
  """
  pred_u, target_u = _unit(pred), _unit(target)
  out = {'psnr': metrics.psnr(pred_u, target_u, 1.0).numpy().tolist()}
  if min(pred_u.shape[2:4]) >= 11:
    out['ssim'] = metrics.ssim(pred_u, target_u, 1.0).numpy().tolist()
  else:
    out['ssim'] = [None] * len(out['psnr'])
  if mask is not None:
    out['context_l1'] = context_l1(pred, target, mask).tolist()
  return out


# Superresolution ---------------------------------------------------------------
def resize_frames(videos, height: int, width: int, method: str) -> np.ndarray:
  """Resizes every frame of f32[B, T, H, W, 3] ('area' antialiased, 'bicubic', 'nearest')."""
  videos = np.asarray(videos, np.float32)
  b, t = videos.shape[:2]
  frames = tf.image.resize(videos.reshape(b * t, *videos.shape[2:]), [height, width],
                           method=method, antialias=method == 'area')
  return frames.numpy().reshape(b, t, height, width, videos.shape[-1])


def superresolve(model, low_videos, height: int, width: int,
                 **invert_kwargs) -> tuple[Inversion, np.ndarray]:
  """Inverts small videos on all their pixels, then renders them larger.

  Args:
    low_videos: f32[B, T, h, w, 3] in [-1, 1] (e.g. 32 x 32).
    height, width: the output size (e.g. 128 x 128).
    invert_kwargs: passed to `invert` (steps, lr, loss, init, ...).
  Returns:
    (the inversion at the low size, f32[B, T, height, width, 3]).
  """
  low_videos = check_videos(low_videos)
  mask = full_mask(*low_videos.shape[1:4])
  result = invert(model, low_videos, mask, **invert_kwargs)
  chunk = invert_kwargs.get('chunk_pixels', config_lib.CHUNK_PIXELS)
  high = render.render_codes(model, result.codes, low_videos.shape[1], height, width,
                             chunk)
  return result, high
