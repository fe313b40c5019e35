"""FVD: the original preprocessing, loading I3D-like SavedModels, features, the cache.

The real I3D is replaced by tiny stand-ins with its input and output contract
(f32[B, T, 224, 224, 3] in [-1, 1] -> f32[B, 400]): one saved as a TF1 Hub
module with I3D's tensor names (the real module's loading path), one as a
TF2 SavedModel with a `default` signature.
"""

import numpy as np
import pytest
import tensorflow as tf

from inrv_tf.evaluate import fvd
from inrv_tf.model import metrics

POOL = 28                       # 224 / 28 = 8 x 8 cells per frame.
FEATURES = 400


def projection(seed: int = 0) -> np.ndarray:
  return np.random.default_rng(seed).normal(size=(8 * 8 * 3, FEATURES)).astype(np.float32)


def standin_features(inputs: np.ndarray, proj: np.ndarray) -> np.ndarray:
  """What the stand-ins compute, in NumPy: 28 x 28 mean pool, projection, mean over time."""
  b, t = inputs.shape[:2]
  pooled = inputs.reshape(b, t, 8, POOL, 8, POOL, 3).mean(axis=(3, 5))   # [B, T, 8, 8, 3]
  return (pooled.reshape(b, t, -1) @ proj).mean(axis=1)


def save_hub_standin(directory, seed: int = 0) -> np.ndarray:
  """A TF1 Hub-format module whose graph has I3D's input and output tensor names."""
  proj = projection(seed)
  graph = tf.Graph()
  with graph.as_default():
    x = tf.compat.v1.placeholder(tf.float32, [None, None, 224, 224, 3], name='input_frames')
    w = tf.compat.v1.get_variable('proj', initializer=tf.constant(proj))
    with tf.compat.v1.variable_scope('RGB'), tf.compat.v1.variable_scope('inception_i3d'):
      pooled = tf.nn.avg_pool3d(x, [1, 1, POOL, POOL, 1], [1, 1, POOL, POOL, 1], 'VALID')
      shape = tf.shape(pooled)
      logits = tf.einsum('btf,fo->bto', tf.reshape(pooled, [shape[0], shape[1], -1]), w)
      out = tf.reduce_mean(logits, axis=1)          # RGB/inception_i3d/Mean:0, as I3D.
    assert out.name == fvd.I3D_OUTPUT
    with tf.compat.v1.Session(graph=graph) as session:
      session.run(tf.compat.v1.global_variables_initializer())
      builder = tf.compat.v1.saved_model.Builder(str(directory))
      signature = tf.compat.v1.saved_model.predict_signature_def({'default': x},
                                                                 {'default': out})
      builder.add_meta_graph_and_variables(session, tags=[],
                                           signature_def_map={'default': signature})
      builder.save()
  (directory / fvd.HUB_V1_MARKER).write_bytes(b'\x08\x03')   # ModuleDef{format: 3}
  return proj


class _Tf2Standin(tf.Module):

  def __init__(self, proj):
    super().__init__()
    self.proj = tf.Variable(proj)

  @tf.function(input_signature=[tf.TensorSpec([None, None, 224, 224, 3], tf.float32)])
  def features(self, x):
    pooled = tf.nn.avg_pool3d(x, [1, 1, POOL, POOL, 1], [1, 1, POOL, POOL, 1], 'VALID')
    shape = tf.shape(pooled)
    logits = tf.einsum('btf,fo->bto', tf.reshape(pooled, [shape[0], shape[1], -1]),
                       self.proj)
    return {'default': tf.reduce_mean(logits, axis=1)}


def save_tf2_standin(directory, seed: int = 0) -> np.ndarray:
  """A TF2 SavedModel (tf.saved_model.save) with a `default` signature."""
  proj = projection(seed)
  module = _Tf2Standin(proj)
  tf.saved_model.save(module, str(directory), signatures={'default': module.features})
  return proj


@pytest.fixture(scope='module')
def networks(tmp_path_factory):
  """{'hub': (FeatureNetwork, projection), 'tf2': (...)}."""
  out = {}
  for name, save in (('hub', save_hub_standin), ('tf2', save_tf2_standin)):
    directory = tmp_path_factory.mktemp(f'standin_{name}')
    proj = save(directory)
    out[name] = (fvd.load_feature_network(directory), proj)
  return out


def _videos(count, frames=4, size=32, seed=0):
  return np.random.default_rng(seed).integers(0, 256, (count, frames, size, size, 3),
                                              dtype=np.uint8)


# Preprocessing ---------------------------------------------------------------
def test_preprocess_is_tf1_bilinear_to_224_scaled_to_minus_one_one():
  videos = _videos(2, frames=3, size=40)
  out = fvd.preprocess(videos).numpy()
  assert out.shape == (2, 3, 224, 224, 3) and out.dtype == np.float32
  # The original FVD: tf.image.resize_bilinear (TF1), then 2 x / 255 - 1.
  reference = tf.compat.v1.image.resize_bilinear(videos.reshape(6, 40, 40, 3), [224, 224])
  reference = 2.0 * reference.numpy().reshape(2, 3, 224, 224, 3) / 255.0 - 1.0
  np.testing.assert_allclose(out, reference, atol=1e-6)
  # No half-pixel centres: output pixel (0, 0) is input pixel (0, 0) exactly.
  np.testing.assert_allclose(out[:, :, 0, 0], 2.0 * videos[:, :, 0, 0] / 255.0 - 1.0,
                             atol=1e-6)
  assert fvd.preprocess(np.full((1, 1, 8, 8, 3), 255, np.uint8)).numpy().min() == 1.0
  assert fvd.preprocess(np.zeros((1, 1, 8, 8, 3), np.uint8)).numpy().max() == -1.0


# Loading ---------------------------------------------------------------------
@pytest.mark.parametrize('path', [None, '', '/nonexistent/i3d',
                                  'https://tfhub.dev/deepmind/i3d-kinetics-400/1'])
def test_without_the_network_the_error_says_how_to_get_it(path, monkeypatch, tmp_path):
  # No path: the default folder of fetch_i3d, here an empty one.
  monkeypatch.setattr(fvd.i3d_weights, 'default_export_dir',
                      lambda: str(tmp_path / 'i3d-kinetics-400'))
  with pytest.raises(fvd.FeatureNetworkError) as error:
    fvd.load_feature_network(path)
  message = str(error.value)
  for needed in ('i3d-kinetics-400', 'python -m inrv_tf.fetch_i3d', 'sha256', '--i3d=DIR'):
    assert needed in message
  if path and path.startswith('https://'):
    assert 'is a URL' in message and 'nothing is downloaded' in message
  elif path:
    assert f'No saved_model.pb in {path}' in message


@pytest.mark.parametrize('kind', ['hub', 'tf2'])
def test_standins_load_and_compute_their_features(networks, kind):
  network, proj = networks[kind]
  inputs = fvd.preprocess(_videos(3, frames=5)).numpy()
  features = network(inputs)
  assert features.shape == (3, FEATURES) and features.dtype == np.float32
  np.testing.assert_allclose(features, standin_features(inputs, proj), rtol=1e-4, atol=1e-4)
  assert len(network.identity) == 12


def test_hub_module_is_read_through_the_i3d_tensors(networks):
  """The TF1 module goes through prune(input_frames:0 -> RGB/inception_i3d/Mean:0)."""
  loaded = tf.saved_model.load(networks['hub'][0].path, tags=[])
  graph_fn = fvd._entry_point(loaded)
  assert graph_fn.inputs[0].name == fvd.I3D_INPUT
  assert graph_fn.outputs[0].name == fvd.I3D_OUTPUT


def test_identity_names_the_network_files(networks, tmp_path):
  save_hub_standin(tmp_path / 'a', seed=0)
  save_hub_standin(tmp_path / 'b', seed=1)
  same = fvd.network_identity(tmp_path / 'a')
  assert same == fvd.network_identity(tmp_path / 'a')
  assert same != fvd.network_identity(tmp_path / 'b')


# Features, statistics, FVD ---------------------------------------------------
def test_fvd_pipeline_end_to_end(networks, tmp_path):
  network, proj = networks['hub']
  real, fake = _videos(6, seed=1), _videos(6, seed=2)
  lines = []
  batches = (real[i:i + 4] for i in range(0, 6, 4))            # 4 + 2 videos
  features = fvd.compute_features(network, batches, total=6, label='real', log=lines.append)
  np.testing.assert_allclose(features, standin_features(fvd.preprocess(real).numpy(), proj),
                             rtol=1e-4, atol=1e-4)
  assert lines[-1].startswith('FVD features of real: 6/6') and lines[-1].endswith('ETA 0:00:00')

  key = {'dataset': 'd', 'split': 'train', 'size': 32, 'frames': 4, 'count': 6,
         'network': network.identity}
  calls = []

  def compute():
    calls.append(1)
    return features

  mu, sigma = fvd.cached_statistics(tmp_path, key, compute, log=None)
  again = fvd.cached_statistics(tmp_path, key, compute, log=None)
  assert len(calls) == 1                                # The second came from the cache.
  np.testing.assert_array_equal(again[0], mu)
  fvd.cached_statistics(tmp_path, {**key, 'size': 64}, compute, log=None)
  assert len(calls) == 2 and len(list(tmp_path.glob('*.npz'))) == 2

  fake_stats = metrics.feature_statistics(network.embed(fake))
  assert metrics.frechet_distance(mu, sigma, mu, sigma) <= 1e-6 * np.trace(sigma)
  assert metrics.frechet_distance(mu, sigma, *fake_stats) > 0.0


def test_bad_network_output_is_refused():
  network = fvd.FeatureNetwork(fn=lambda x: tf.zeros([1, 2, 3]), identity='x', path='p')
  with pytest.raises(fvd.FeatureNetworkError, match=r'\[B, D\]'):
    network(np.zeros((1, 2, 224, 224, 3), np.float32))
