"""Tests for inrv_tf.model.lpips: the layer against a NumPy LPIPS written here, and the loader.

The weights are random, of the real shapes, written to an .npz in torch's layout transposed
as docs/lpips.md does; nothing is downloaded.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from inrv_tf.model import lpips

# The lpips package's constants (lpips/lpips.py ScalingLayer, normalize_tensor), written
# out here so that the module's copies are checked too.
SHIFT = np.array([-.030, -.088, -.188])
SCALE = np.array([.458, .448, .450])
STAGES = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))


def torch_weights(seed=0):
  """Random weights in torch's layout: 13 (f64[out, in, 3, 3], f64[out]) and 5 heads f64[C]."""
  rng = np.random.default_rng(seed)
  convs, cin = [], 3
  for stage in STAGES:
    for cout in stage:
      kernel = rng.standard_normal((cout, cin, 3, 3)) * np.sqrt(2.0 / (9 * cin))
      bias = 0.1 * rng.standard_normal(cout)
      # Rounded to float32 once, so the layer and the reference hold the same numbers.
      convs.append((kernel.astype(np.float32).astype(np.float64),
                    bias.astype(np.float32).astype(np.float64)))
      cin = cout
  heads = [rng.uniform(0, 1, stage[-1]).astype(np.float32).astype(np.float64)
           for stage in STAGES]
  return convs, heads


def npz_arrays(convs, heads):
  """docs/lpips.md's layout: kernels [out, in, kh, kw] -> [kh, kw, in, out]."""
  arrays = {}
  for i, (kernel, bias) in enumerate(convs, 1):
    arrays[f'vgg16/conv{i}/kernel'] = kernel.transpose(2, 3, 1, 0).astype(np.float32)
    arrays[f'vgg16/conv{i}/bias'] = bias.astype(np.float32)
  arrays.update({f'lin{k}/weight': h.astype(np.float32) for k, h in enumerate(heads)})
  return arrays


def conv3x3(x, kernel, bias):
  """Torch's Conv2d(3x3, padding=1) on f64[N, C, H, W] with kernel [O, C, 3, 3]."""
  h, w = x.shape[2:]
  padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
  patches = np.stack([np.stack([padded[:, :, i:i + h, j:j + w] for j in range(3)], axis=2)
                      for i in range(3)], axis=2)                     # [N, C, 3, 3, H, W]
  return np.einsum('ncijhw,ocij->nohw', patches, kernel, optimize=True) + bias[:, None, None]


def max_pool(x):
  """Torch's MaxPool2d(2, 2) (floor) on f64[N, C, H, W]."""
  n, c, h, w = x.shape
  x = x[:, :, :h // 2 * 2, :w // 2 * 2]
  return x.reshape(n, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))


def reference_lpips(a, b, convs, heads):
  """The lpips package's forward (net='vgg', v0.1) in float64 NumPy: f64[N]."""
  def taps(frames):
    x = (np.transpose(frames, (0, 3, 1, 2)) - SHIFT[:, None, None]) / SCALE[:, None, None]
    out, i = [], 0
    for s, stage in enumerate(STAGES):
      if s:
        x = max_pool(x)
      for _ in stage:
        x = np.maximum(conv3x3(x, *convs[i]), 0.0)
        i += 1
      out.append(x)
    return out

  def normalize(x):
    return x / (np.sqrt(np.sum(x ** 2, axis=1, keepdims=True)) + 1e-10)

  total = 0.0
  for fa, fb, head in zip(taps(np.float64(a)), taps(np.float64(b)), heads):
    total = total + np.einsum('nchw,c->nhw', (normalize(fa) - normalize(fb)) ** 2,
                              head).mean(axis=(1, 2))
  return total


@pytest.fixture(scope='module')
def weights():
  return torch_weights()


@pytest.fixture(scope='module')
def weights_file(tmp_path_factory, weights):
  path = tmp_path_factory.mktemp('lpips') / 'lpips_vgg16.npz'
  np.savez(path, **npz_arrays(*weights))
  return path


@pytest.fixture(scope='module')
def model(weights_file):
  return lpips.load_lpips(weights_file)


def frames(seed, shape=(3, 16, 16, 3)):
  return np.random.default_rng(seed).uniform(-1, 1, shape).astype(np.float32)


def test_layout_has_the_real_vgg16_sizes():
  shapes = lpips.expected_shapes()
  assert len(shapes) == 31
  assert shapes['vgg16/conv1/kernel'] == (3, 3, 3, 64)
  assert shapes['vgg16/conv5/kernel'] == (3, 3, 128, 256)
  assert shapes['vgg16/conv13/bias'] == (512,)
  assert [shapes[f'lin{k}/weight'] for k in range(5)] == [(64,), (128,), (256,), (512,), (512,)]
  # torchvision's vgg16().features holds 14,714,688 parameters; the heads 1,472.
  assert sum(int(np.prod(s)) for s in shapes.values()) == 14_714_688 + 1_472
  np.testing.assert_array_equal(lpips.SHIFT, SHIFT)
  np.testing.assert_array_equal(lpips.SCALE, SCALE)


@pytest.mark.parametrize('size', [(16, 16), (20, 24)])
def test_matches_numpy_reference(model, weights, size):
  a, b = frames(1, (3, *size, 3)), frames(2, (3, *size, 3))
  expected = reference_lpips(a, b, *weights)
  assert np.all(expected > 0.1)            # Far from 0: a relative comparison means something.
  np.testing.assert_allclose(model(a, b).numpy(), expected, rtol=1e-5)


def test_tf_function_with_unknown_shapes_matches_eager(model):
  a, b = frames(3, (2, 20, 24, 3)), frames(4, (2, 20, 24, 3))
  spec = tf.TensorSpec([None, None, None, 3], tf.float32)
  graph = tf.function(model.call, input_signature=[spec, spec])
  np.testing.assert_allclose(graph(a, b).numpy(), model(a, b).numpy(), rtol=1e-6)


def test_zero_for_equal_frames_and_symmetric(model):
  a, b = frames(5), frames(6)
  assert np.max(np.abs(model(a, a).numpy())) < 1e-7
  np.testing.assert_allclose(model(a, b).numpy(), model(b, a).numpy(), rtol=1e-6)


def test_grows_with_noise(model):
  ramp = np.linspace(-0.8, 0.8, 16, dtype=np.float32)
  clean = np.stack([np.broadcast_to(ramp[:, None], (16, 16)),
                    np.broadcast_to(ramp[None, :], (16, 16)),
                    np.full((16, 16), 0.2, np.float32)], axis=-1)[None]   # [1, 16, 16, 3]
  noise = np.random.default_rng(7).standard_normal(clean.shape).astype(np.float32)
  distances = [float(model(clean, clean + level * noise)[0]) for level in (0.05, 0.2, 0.5)]
  assert 0 < distances[0] < distances[1] < distances[2]


def test_gradient_matches_finite_differences(model, weights):
  a, b = frames(8, (1, 16, 16, 3)), frames(9, (1, 16, 16, 3))
  a_tensor = tf.constant(a)
  with tf.GradientTape() as tape:
    tape.watch(a_tensor)
    distance = tf.reduce_sum(model(a_tensor, b))
  grad = tape.gradient(distance, a_tensor).numpy()
  assert np.all(np.isfinite(grad)) and np.any(grad != 0)
  step = 1e-4
  for flat in np.argsort(-np.abs(grad).ravel())[:4]:     # The 4 most sensitive values.
    index = np.unravel_index(flat, a.shape)
    plus, minus = a.astype(np.float64), a.astype(np.float64)
    plus[index] += step
    minus[index] -= step
    numeric = (reference_lpips(plus, b, *weights)[0]
               - reference_lpips(minus, b, *weights)[0]) / (2 * step)
    np.testing.assert_allclose(grad[index], numeric, rtol=1e-2)


def test_all_zero_features_give_finite_gradients(weights):
  convs, heads = weights
  # A bias of -100 on conv13 switches every relu5_3 channel off: the norm is 0 there.
  off = convs[:12] + [(convs[12][0], np.full(512, -100.0))]
  layer = lpips.Lpips()
  layer.assign_weights(npz_arrays(off, heads))
  a, b = tf.constant(frames(10, (1, 16, 16, 3))), frames(11, (1, 16, 16, 3))
  with tf.GradientTape() as tape:
    tape.watch(a)
    distance = layer(a, b)
  grad = tape.gradient(distance, a).numpy()
  assert np.all(np.isfinite(grad)) and np.any(grad != 0)
  np.testing.assert_allclose(distance.numpy(), reference_lpips(a.numpy(), b, off, heads),
                             rtol=1e-5)


def test_float32_under_mixed_precision(weights_file, model):
  a, b = frames(12, (2, 16, 16, 3)), frames(13, (2, 16, 16, 3))
  keras.mixed_precision.set_global_policy('mixed_bfloat16')
  try:
    layer = lpips.load_lpips(weights_file)
    distance = layer(tf.cast(a, tf.bfloat16), tf.cast(b, tf.bfloat16))
  finally:
    keras.mixed_precision.set_global_policy('float32')
  assert layer.compute_dtype == 'float32' and distance.dtype == tf.float32
  assert all(v.dtype == 'float32' and not v.trainable for v in layer.weights)
  # Only the inputs' rounding to bfloat16 differs.
  np.testing.assert_allclose(distance.numpy(), model(a, b).numpy(), rtol=2e-2)


def test_refuses_small_frames(model):
  small = np.zeros((1, 15, 15, 3), np.float32)
  with pytest.raises(ValueError, match='at least 16 x 16 pixels.*got 15 x 15'):
    model(small, small)
  spec = tf.TensorSpec([None, None, None, 3], tf.float32)
  graph = tf.function(model.call, input_signature=[spec, spec])
  with pytest.raises(tf.errors.InvalidArgumentError, match='at least 16 x 16'):
    graph(small, small)


def test_refuses_missing_file(tmp_path):
  path = tmp_path / 'nowhere.npz'
  with pytest.raises(lpips.LpipsWeightsError, match='no such file') as error:
    lpips.load_lpips(path)
  assert str(path) in str(error.value) and 'docs/lpips.md' in str(error.value)


def test_refuses_text_file(tmp_path):
  path = tmp_path / 'weights.npz'
  path.write_text('not weights\n')
  with pytest.raises(lpips.LpipsWeightsError, match='not an .npz archive') as error:
    lpips.load_lpips(path)
  assert str(path) in str(error.value) and 'docs/lpips.md' in str(error.value)


def test_refuses_missing_array(tmp_path, weights):
  arrays = npz_arrays(*weights)
  del arrays['vgg16/conv7/bias']
  path = tmp_path / 'weights.npz'
  np.savez(path, **arrays)
  with pytest.raises(lpips.LpipsWeightsError) as error:
    lpips.load_lpips(path)
  message = str(error.value)
  assert 'missing array vgg16/conv7/bias.' in message and str(path) in message
  assert 'docs/lpips.md' in message and 'unexpected' not in message


def test_refuses_wrong_shape_extra_array_and_negative_head(tmp_path, weights):
  arrays = npz_arrays(*weights)
  arrays['vgg16/conv1/kernel'] = arrays['vgg16/conv1/kernel'].transpose(3, 2, 0, 1)  # OIHW.
  arrays['lin5/weight'] = np.ones(512, np.float32)
  arrays['lin2/weight'][7] = -0.5
  path = tmp_path / 'weights.npz'
  np.savez(path, **arrays)
  with pytest.raises(lpips.LpipsWeightsError) as error:
    lpips.load_lpips(path)
  message = str(error.value)
  assert ('array vgg16/conv1/kernel has the shape (64, 3, 3, 3), expected (3, 3, 3, 64)'
          in message)
  assert 'unexpected array lin5/weight' in message and 'missing' not in message
  assert 'array lin2/weight has negative weights' in message


def test_refuses_npy_and_pytorch_pickle(tmp_path):
  npy = tmp_path / 'weights.npy'
  np.save(npy, np.zeros(3, np.float32))
  with pytest.raises(lpips.LpipsWeightsError, match=r'a single \.npy array of shape \(3,\)'):
    lpips.load_lpips(npy)
  pth = tmp_path / 'vgg.pth'
  pth.write_bytes(b'\x80\x02}q\x00.')           # A pickle, as legacy torch.save writes.
  with pytest.raises(lpips.LpipsWeightsError, match='pickled data, like a PyTorch .pth'):
    lpips.load_lpips(pth)
