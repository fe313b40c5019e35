"""InrvServingModule: a trained decoder as a tf.Module with TF Serving signatures.

    module = InrvServingModule(model, max_pixels=64 * 25 * 128 * 128)
    tf.saved_model.save(module, path, signatures=module.signatures())

The SavedModel holds the hypernetwork's variables and the learned codes, and
nothing else: it loads with `tf.saved_model.load` where only TensorFlow is
installed. D is the model's latent_dim, N the number of videos a request asks
for; every size is an int32 scalar. Videos are uint8 RGB,
round((clip(x, -1, 1) + 1) * 127.5), exactly `inrv_tf.data.to_uint8`.

  serving_default, render
    z f32[N, D], frames i32[], height i32[], width i32[]
    -> video u8[N, frames, height, width, 3]
  reconstruct
    video_ids i32[N] in [0, num_videos), frames, height, width
    -> video u8[N, frames, height, width, 3]           (the learned codes inside)
  sample
    count i32[], seed i32[], frames, height, width
    -> video u8[count, frames, height, width, 3], z f32[count, D]
  interpolate
    z0 f32[D], z1 f32[D], steps i32[], frames, height, width
    -> video u8[steps, frames, height, width, 3], z f32[steps, D]   (z[0] = z0, z[-1] = z1)

A request is refused with InvalidArgumentError, whose message names the limit,
before anything is rendered when: a size is <= 0, frames > MAX_FRAMES, a side >
MAX_SIDE, N < 1 or N > max_videos, N * frames * height * width > max_pixels, a
video id is out of range, or a code is not finite. max_pixels, max_videos and
chunk_pixels are fixed at export time.

Exported with a denoiser (export_decoder --denoise), every signature's frames
pass through the workdir's denoising VQ-VAE-2 (paper Section 4.2,
`inrv_tf.denoiser.denoise_tensor`) before they become uint8.
"""

from __future__ import annotations

import tensorflow as tf

from inrv_tf import config as config_lib
from inrv_tf.apps import sampling
from inrv_tf.data import pipeline
from inrv_tf.denoiser import denoising
from inrv_tf.model import render

MAX_FRAMES = 1024
MAX_SIDE = 4096
DEFAULT_MAX_PIXELS = 64 * 25 * 128 * 128  # 64 paper-size evaluation videos.
DEFAULT_MAX_VIDEOS = 256
SIGNATURES = ('serving_default', 'render', 'reconstruct', 'sample', 'interpolate')
_INT32_MAX = 2**31 - 1


def learned_latents(model) -> tf.Tensor:
  """The m of every training video, f32[num_videos, latent_dim].

  Without CLIP m is the auto-decoded code c (the latent table); a Video-CLIP
  model carries the m table its training wrote (`InrvModel.training_latents`),
  so the SavedModel never needs CLIP.
  """
  return tf.constant(model.training_latents())


def hypernet_variables(model) -> dict:
  """The hypernetwork's tf.Variables by name, for the module to track.

  The module tracks these, not the Keras layer: a SavedModel that tracks Keras 3
  variables (keras.Variable wrappers) loads with tf.saved_model.load, but the
  session-based loader of TF Serving and `saved_model_cli run` then fails with
  "Could not find variable ..." (keras-team/keras#19274, #20096); tracking the
  tf.Variables the graph reads avoids it (tests/export_test.py runs that loader).
  """
  found = {}
  for v in model.hypernet.variables:
    value = v.value
    if not isinstance(value, tf.Variable) or v.name in found:
      raise TypeError(f'Cannot export hypernetwork variable {v.path}: expected a '
                      f'uniquely named tf.Variable behind it, got {type(value).__name__}.')
    found[v.name] = value
  return found


def _scalar(name):
  return tf.TensorSpec([], tf.int32, name=name)


class InrvServingModule(tf.Module):
  """The signatures above, over one trained model.

  Args:
    model: an `inrv_tf.model.InrvModel` (restored from a checkpoint).
    max_pixels: largest N * frames * height * width a request may ask for.
    chunk_pixels: pixels (summed over the request's videos) the INR runs on at
      once; activations stay near chunk_pixels * max(inr_widths) floats.
    max_videos: largest N of a request (the hypernetwork runs on all N at once).
  """

  def __init__(self, model, max_pixels: int = DEFAULT_MAX_PIXELS,
               chunk_pixels: int = config_lib.CHUNK_PIXELS,
               max_videos: int = DEFAULT_MAX_VIDEOS, denoiser=None):
    super().__init__(name='inrv_serving')
    # N * frames * height * width is checked in int64, but one video's
    # frames * height * width is rendered in int32 (render_params).
    for name, value in (('max_pixels', max_pixels), ('chunk_pixels', chunk_pixels),
                        ('max_videos', max_videos)):
      if not 1 <= int(value) <= _INT32_MAX:
        raise ValueError(f'{name} must be in [1, {_INT32_MAX}], got {value}.')
    self._max_pixels, self._chunk_pixels = int(max_pixels), int(chunk_pixels)
    self._max_videos = int(max_videos)
    self._inr_params = model.inr_params  # A bound method: not tracked itself.
    self._num_frequencies = model.model_config.num_frequencies
    self.hypernet = hypernet_variables(model)
    # A plain dataclass, so not tracked; the VQ-VAE-2's tf.Variables are, as the
    # hypernetwork's are (the session loader's reason, see hypernet_variables).
    self._denoiser = denoiser
    if denoiser is not None:
      self.denoiser = denoising.serving_variables(denoiser)
    codes = learned_latents(model)
    self.latents = tf.Variable(codes, trainable=False, name='learned_latents')
    # Readable after tf.saved_model.load (loaded.max_pixels.numpy()).
    self.max_pixels = tf.Variable(self._max_pixels, dtype=tf.int64, trainable=False)
    self.max_videos = tf.Variable(self._max_videos, dtype=tf.int32, trainable=False)
    self.chunk_pixels = tf.Variable(self._chunk_pixels, dtype=tf.int32, trainable=False)
    num_videos, dim = codes.shape
    self.num_videos, self.latent_dim = int(num_videos), int(dim)
    size = [_scalar('frames'), _scalar('height'), _scalar('width')]
    code = tf.TensorSpec([dim], tf.float32)
    self.render = tf.function(self._render, input_signature=[
        tf.TensorSpec([None, dim], tf.float32, name='z'), *size])
    self.reconstruct = tf.function(self._reconstruct, input_signature=[
        tf.TensorSpec([None], tf.int32, name='video_ids'), *size])
    self.sample = tf.function(self._sample, input_signature=[
        _scalar('count'), _scalar('seed'), *size])
    self.interpolate = tf.function(self._interpolate, input_signature=[
        tf.TensorSpec.from_spec(code, name='z0'), tf.TensorSpec.from_spec(code, name='z1'),
        _scalar('steps'), *size])

  def signatures(self) -> dict:
    """Signature name -> concrete function, for tf.saved_model.save."""
    render_fn = self.render.get_concrete_function()
    return {'serving_default': render_fn, 'render': render_fn,
            'reconstruct': self.reconstruct.get_concrete_function(),
            'sample': self.sample.get_concrete_function(),
            'interpolate': self.interpolate.get_concrete_function()}

  # Checks: every one runs before anything of the request's size is built. ----
  def _size_checks(self, n, frames, height, width) -> list:
    lim = lambda x, lo, hi, what: [
        tf.debugging.assert_greater_equal(x, lo, message=f'{what} must be >= {lo}'),
        tf.debugging.assert_less_equal(x, hi, message=f'{what} must be <= {hi}')]
    checks = (lim(n, 1, self._max_videos,
                  'The number of videos (max_videos of this export)')
              + lim(frames, 1, MAX_FRAMES, 'frames')
              + lim(height, 1, MAX_SIDE, 'height') + lim(width, 1, MAX_SIDE, 'width'))
    pixels = tf.math.reduce_prod(tf.cast(tf.stack([n, frames, height, width]), tf.int64))
    checks.append(tf.debugging.assert_less_equal(
        pixels, tf.constant(self._max_pixels, tf.int64),
        message=config_lib.budget_message(
            'videos x frames x height x width of the request', self._max_pixels,
            'max_pixels', 'export again with a larger --max_pixels, or ask for less')))
    return checks

  def _video(self, checks, z, frames, height, width) -> tf.Tensor:
    """Renders f32[N, D] codes to u8[N, T, H, W, 3] once `checks` have passed."""
    with tf.control_dependencies(checks):
      z, frames, height, width = (tf.identity(x) for x in (z, frames, height, width))
    n = tf.shape(z)[0]
    # chunk_pixels bounds the pixels of all N videos together, per loop step.
    chunk = tf.maximum(self._chunk_pixels // n, 1)
    video = render.render_params(self._inr_params(z), frames, height, width,
                                 self._num_frequencies, chunk)
    video = tf.ensure_shape(video, [None, None, None, None, 3])
    if self._denoiser is not None:
      video = denoising.denoise_tensor(self._denoiser.model, video, self._denoiser.size)
    return pipeline.to_uint8(video)

  # Signatures ---------------------------------------------------------------
  def _render(self, z, frames, height, width):
    checks = self._size_checks(tf.shape(z)[0], frames, height, width)
    checks.append(tf.debugging.assert_all_finite(z, 'z must be finite'))
    return {'video': self._video(checks, z, frames, height, width)}

  def _reconstruct(self, video_ids, frames, height, width):
    checks = self._size_checks(tf.size(video_ids), frames, height, width) + [
        tf.debugging.assert_non_negative(video_ids, message='video_ids must be >= 0'),
        tf.debugging.assert_less(
            video_ids, self.num_videos,
            message=f'video_ids must be < {self.num_videos} (the training videos)')]
    with tf.control_dependencies(checks):
      z = tf.gather(self.latents, video_ids)
    return {'video': self._video(checks, z, frames, height, width)}

  def _sample(self, count, seed, frames, height, width):
    checks = self._size_checks(count, frames, height, width)
    with tf.control_dependencies(checks):
      z = sampling.slerp_sample_tensor(self.latents, count, seed)
    return {'video': self._video(checks, z, frames, height, width), 'z': z}

  def _interpolate(self, z0, z1, steps, frames, height, width):
    checks = self._size_checks(steps, frames, height, width) + [
        tf.debugging.assert_all_finite(z0, 'z0 must be finite'),
        tf.debugging.assert_all_finite(z1, 'z1 must be finite')]
    with tf.control_dependencies(checks):
      z = sampling.interpolation_tensor(z0, z1, steps)
    return {'video': self._video(checks, z, frames, height, width), 'z': z}
