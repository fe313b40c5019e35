"""The Single-INR baseline (paper equation 1, Table 1): one INR fitted per video.

    spec = model.spec                                  # the same INR as INR-V's
    fit = fit_videos(videos, spec, num_frequencies=10, steps=750)
    recon = render_fit(fit, frames=25, height=100, width=100, num_frequencies=10)

No hypernetwork: every video's INR weights are a trainable variable with a
leading video axis ([B, in, out], [B, out]) and run through the same einsum
INR as INR-V (`inr.apply_inr`), so B videos are fitted at once, each exactly
as if alone (the loss is a sum of per-video means). As in the authors'
release: the NeRF-encoded ReLU MLP, weights He-normal (fan_in, ReLU) on every
layer, biases U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (torch.nn.Linear's default),
the mean squared error of equation 1 on [-1, 1] videos, every pixel in every
step, Adam at lr 1e-4, 750 steps (Section 4.1).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Callable

import keras
import numpy as np
import tensorflow as tf

from inrv_tf import config as config_lib
from inrv_tf.model import encoding
from inrv_tf.model import inr
from inrv_tf.model import losses
from inrv_tf.model import render

_DEFAULTS = config_lib.EvalSettings()   # 750 steps of Adam at 1e-4 (Section 4.1).


def init_params(spec: inr.InrSpec, num_videos: int, seed: int = 0) -> list[np.ndarray]:
  """Independent initial weights for `num_videos` INRs (the release's ReLU init).

  Returns:
    [W0 f32[B, in, out], b0 f32[B, out], ...] in `spec` order.
  """
  rng = np.random.default_rng(seed)
  params = []
  for fan_in, fan_out in spec.layer_sizes:
    std, bound = np.sqrt(2.0 / fan_in), 1.0 / np.sqrt(fan_in)
    params.append(rng.normal(0.0, std, (num_videos, fan_in, fan_out)).astype(np.float32))
    params.append(rng.uniform(-bound, bound, (num_videos, fan_out)).astype(np.float32))
  return params


@dataclasses.dataclass(frozen=True)
class SingleInrFit:
  """The result of `fit_videos`.

  Attributes:
    params: [W0 f32[B, in, out], b0 f32[B, out], ...], the fitted INRs.
    losses: f32[steps, B], each video's MSE (on [-1, 1]) before each update.
    seconds: wall time of the optimisation (first trace included).
  """
  params: list
  losses: np.ndarray
  seconds: float


def make_step(params: list, optimizer, chunk_pixels: int) -> Callable:
  """One Adam update of every video's INR: step(features f32[P, F], target f32[B, P, 3]) -> f32[B].

  The INR's own chunked gradient (`inr.chunked_inr_grads`): memory is bounded
  by the chunk and the update is that of the whole-video mean squared error.
  Videos are independent, so the summed loss gives each INR its own gradient.
  """

  @tf.function
  def step(features, target):
    per_video, _, grads = inr.chunked_inr_grads(params, features, target, losses.l2,
                                                chunk_pixels)
    optimizer.apply_gradients(zip(grads, params))
    return per_video

  return step


def fit_videos(videos, spec: inr.InrSpec, num_frequencies: int,
               steps: int = _DEFAULTS.single_inr_steps, lr: float = _DEFAULTS.single_inr_lr, seed: int = 0,
               chunk_pixels: int = config_lib.CHUNK_PIXELS,
               log: Callable[[str], None] | None = None, log_every: int = 100
               ) -> SingleInrFit:
  """Fits one INR per video to all its pixels (equation 1).

  Args:
    videos: f32[B, T, H, W, 3] in [-1, 1].
    spec: the INR's layer sizes; spec.in_features must equal the encoding's
      3 + 6 * num_frequencies.
    steps: Adam updates over every pixel. lr: Adam learning rate.
    chunk_pixels: pixels per INR pass (B videos each); bounds memory.
  Returns:
    SingleInrFit (params, per-step losses, seconds).
  """
  videos = np.asarray(videos, np.float32)
  if videos.ndim != 5 or videos.shape[-1] != spec.out_features:
    raise ValueError(f'Videos must be f32[B, T, H, W, {spec.out_features}], got '
                     f'shape {videos.shape}.')
  if spec.in_features != encoding.num_features(num_frequencies):
    raise ValueError(f'The INR takes {spec.in_features} features; {num_frequencies} '
                     f'frequencies give {encoding.num_features(num_frequencies)}.')
  if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
    raise ValueError(f'steps must be a positive integer, got {steps!r}.')
  frames, height, width = videos.shape[1:4]
  features = tf.constant(encoding.encoded_grid(frames, height, width, num_frequencies))
  target = tf.constant(videos.reshape(len(videos), -1, videos.shape[-1]))   # [B, P, 3]
  params = [tf.Variable(p, name=name) for p, name in
            zip(init_params(spec, len(videos), seed), spec.param_names)]
  # PyTorch's Adam epsilon, as the release's optimiser.
  optimizer = keras.optimizers.Adam(learning_rate=lr, epsilon=config_lib.ADAM_EPSILON)
  optimizer.build(params)
  step = make_step(params, optimizer, int(chunk_pixels))
  history, start = [], time.perf_counter()
  for i in range(int(steps)):
    history.append(step(features, target).numpy())
    if log and ((i + 1) % log_every == 0 or i + 1 == steps):
      log(f'Single-INR step {i + 1}/{steps} mse {float(np.mean(history[-1])):.5f}')
  return SingleInrFit([p.numpy() for p in params], np.stack(history),
                      time.perf_counter() - start)


def render_fit(fit: SingleInrFit, frames: int, height: int, width: int,
               num_frequencies: int,
               chunk_pixels: int = config_lib.CHUNK_PIXELS) -> np.ndarray:
  """Renders fitted INRs (at any size): f32[B, frames, height, width, 3], ~[-1, 1]."""
  render.check_size(frames, height, width, chunk_pixels)
  params = [tf.constant(p) for p in fit.params]
  return render.render_params(params, frames, height, width, num_frequencies,
                              chunk_pixels).numpy()
