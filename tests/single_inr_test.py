"""The Single-INR baseline: the release's init, batched fitting, a stated PSNR."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from inrv_tf.model import encoding
from inrv_tf.model import inr
from inrv_tf.model import metrics
from inrv_tf.evaluate import single_inr

K = 6
SPEC = inr.InrSpec(encoding.num_features(K), (64, 64, 64), 3)
STEPS = 300
LR = 3e-3              # The paper's 1e-4 needs its 750 steps and more; this is a unit test.
FIT_PSNR = 27.0        # dB on [-1, 1] (range 2); the two videos reach about 29 and 31.


def generated_video(frames=8, size=16, flip=False) -> np.ndarray:
  """A soft blob moving across colour ramps: f32[frames, size, size, 3] in [-1, 1]."""
  t, y, x = np.meshgrid(np.linspace(0, 1, frames), np.linspace(0, 1, size),
                        np.linspace(0, 1, size), indexing='ij')
  if flip:
    x = 1 - x
  blob = np.exp(-((y - 0.3 - 0.4 * t) ** 2 + (x - 0.7 + 0.4 * t) ** 2) / (2 * 0.15 ** 2))
  video = np.stack([blob, 0.5 * x + 0.3 * blob, 0.6 * y * (1 - blob)], axis=-1)
  return (2 * video - 1).astype(np.float32)


def test_init_is_the_releases_relu_init():
  spec = inr.InrSpec(63, (256, 256), 3)
  params = single_inr.init_params(spec, num_videos=4, seed=0)
  assert [p.shape for p in params] == [(4, *s) for s in spec.param_shapes]
  for (fan_in, _), w, b in zip(spec.layer_sizes, params[::2], params[1::2]):
    if w.size > 10_000:     # He-normal: std sqrt(2 / fan_in) (kaiming_normal_, fan_in, relu).
      assert w.std() == pytest.approx(np.sqrt(2 / fan_in), rel=0.03)
      assert abs(w.mean()) < 0.05 * np.sqrt(2 / fan_in)
    bound = 1 / np.sqrt(fan_in)        # torch.nn.Linear's default bias init.
    assert np.abs(b).max() <= bound and np.abs(b).max() > 0.8 * bound
  assert not np.allclose(params[0][0], params[0][1])      # Each video its own INR.
  np.testing.assert_array_equal(single_inr.init_params(spec, 4, seed=0)[0], params[0])


def test_chunked_step_equals_one_pass():
  videos = np.stack([generated_video(), generated_video(flip=True)])
  features = tf.constant(encoding.encoded_grid(8, 16, 16, K))
  target = tf.constant(videos.reshape(2, -1, 3))
  results = []
  for chunk in (1 << 15, 300):         # One pass; 7 uneven chunks of 2,048 pixels.
    params = [tf.Variable(p) for p in single_inr.init_params(SPEC, 2, seed=1)]
    optimizer = keras.optimizers.Adam(1e-3)
    optimizer.build(params)
    step = single_inr.make_step(params, optimizer, chunk)
    losses = [step(features, target).numpy() for _ in range(2)]
    results.append((losses, [p.numpy() for p in params]))
  np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-5)
  for a, b in zip(results[0][1], results[1][1]):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_fits_generated_videos_to_a_stated_psnr():
  videos = np.stack([generated_video(), generated_video(flip=True)])
  lines = []
  fit = single_inr.fit_videos(videos, SPEC, K, steps=STEPS, lr=LR, log=lines.append)
  assert fit.losses.shape == (STEPS, 2)
  assert np.all(fit.losses[-1] < 0.01 * fit.losses[0])
  recon = single_inr.render_fit(fit, 8, 16, 16, K)
  psnr = metrics.psnr(np.clip(recon, -1, 1), videos, 2.0).numpy()
  assert np.all(psnr >= FIT_PSNR), psnr
  # The last loss is the MSE just before the last update: the render is close to it.
  np.testing.assert_allclose(metrics.mse(recon, videos).numpy(), fit.losses[-1], rtol=0.2)
  assert lines[-1].startswith(f'Single-INR step {STEPS}/{STEPS} mse')
  # An INR renders at any size.
  assert single_inr.render_fit(fit, 4, 32, 24, K).shape == (2, 4, 32, 24, 3)


@pytest.mark.parametrize('kwargs,message', [
    ({'num_frequencies': 4}, 'takes 39 features'),
    ({'steps': 0}, 'steps must be a positive integer'),
])
def test_bad_arguments_raise(kwargs, message):
  args = {'videos': generated_video()[None], 'spec': SPEC, 'num_frequencies': K, **kwargs}
  with pytest.raises(ValueError, match=message):
    single_inr.fit_videos(**args)
