"""LPIPS-VGG16 v0.1 (Zhang et al. 2018) as a Keras layer, weights from a local .npz.

    model = load_lpips('lpips_vgg16.npz')    # every array checked by name and shape
    d = model(pred, target)     # f32[N, H >= 16, W >= 16, 3] in [-1, 1] (twice) -> f32[N] >= 0

The `lpips` package's distance for net='vgg', version='0.1', lpips=True, spatial=False,
normalize=False: both frames are scaled ((x - SHIFT) / SCALE), run through torchvision's
VGG16 `features` up to relu5_3, and at the five taps (relu1_2, relu2_2, relu3_3, relu4_3,
relu5_3) each feature vector is divided by its channel L2 norm (+ 1e-10); the squared
difference is weighted by the tap's non-negative 1x1 linear head, averaged over space,
and the five taps are summed. The release of INR-V trains on L1 + 0.7 x this, per frame.

No registry package ships the VGG16 ImageNet weights: docs/lpips.md says how to write the
file (torchvision's `vgg16(weights='IMAGENET1K_V1').features` and the lpips package's
v0.1 vgg heads). The network is frozen: its variables are not trainable.
"""

from __future__ import annotations

import os
import zipfile

import keras
import numpy as np
import tensorflow as tf

# lpips' ScalingLayer: [-1, 1] RGB to roughly the ImageNet-normalised range VGG16 expects.
SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)
EPSILON = 1e-10                 # lpips.normalize_tensor's, added to the norm (not inside sqrt).
# Output channels of VGG16's 13 3x3 convolutions, stage by stage; a 2x2 max pool (stride 2)
# sits between stages, and each stage's last ReLU is a tap.
STAGES = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))
TAP_CHANNELS = tuple(stage[-1] for stage in STAGES)     # (64, 128, 256, 512, 512)
MIN_SIZE = 16                   # 4 pools halve (floor) the frame: 15 x 15 leaves relu5_3 empty.

HOW_TO = ('Write the file once, on a machine with internet access: `pip install torch '
          'torchvision lpips`, then run the script in docs/lpips.md. It saves torchvision\'s '
          'vgg16(weights="IMAGENET1K_V1").features and the lpips package\'s v0.1 vgg linear '
          'heads as one .npz of float32 arrays: vgg16/conv{1..13}/kernel [3, 3, in, out], '
          'vgg16/conv{1..13}/bias [out], lin{0..4}/weight [C] (C = 64, 128, 256, 512, 512).')


class LpipsWeightsError(ValueError):
  """A weights file that is missing, unreadable, or does not fit LPIPS-VGG16."""


def conv_specs() -> list[tuple[int, int, int]]:
  """(index 1..13, in channels, out channels) of each VGG16 convolution, in order."""
  specs, channels = [], 3
  for stage in STAGES:
    for width in stage:
      specs.append((len(specs) + 1, channels, width))
      channels = width
  return specs


def expected_shapes() -> dict[str, tuple[int, ...]]:
  """The .npz's 31 names and shapes: 13 kernels (HWIO), 13 biases, 5 heads."""
  shapes = {}
  for i, cin, cout in conv_specs():
    shapes[f'vgg16/conv{i}/kernel'] = (3, 3, cin, cout)
    shapes[f'vgg16/conv{i}/bias'] = (cout,)
  shapes.update({f'lin{k}/weight': (c,) for k, c in enumerate(TAP_CHANNELS)})
  return shapes


def check_frames_shape(shape) -> None:
  """ValueError unless `shape` can be [N, H >= 16, W >= 16, 3]."""
  shape = tf.TensorShape(shape)
  if not shape.is_compatible_with([None, None, None, 3]):
    raise ValueError(f'LPIPS takes frames f32[N, H, W, 3] in [-1, 1]; got the shape {shape}')
  small = [d for d in shape[1:3] if d is not None and d < MIN_SIZE]
  if small:
    raise ValueError(f'LPIPS-VGG16 needs frames of at least {MIN_SIZE} x {MIN_SIZE} pixels '
                     f'(its 4 max pools halve them; smaller leave relu5_3 empty); got '
                     f'{shape[1]} x {shape[2]}')


def scale_frames(frames) -> tf.Tensor:
  """lpips' ScalingLayer: f32[N, H, W, 3] in [-1, 1] -> (x - SHIFT) / SCALE."""
  return (frames - tf.constant(SHIFT, frames.dtype)) / tf.constant(SCALE, frames.dtype)


def normalize_channels(features) -> tf.Tensor:
  """x / (||x|| over channels + 1e-10), as lpips.normalize_tensor: f32[..., C] -> same.

  Where every channel is 0 (ReLU'd off) the norm's derivative is infinite, but the
  gradient reaching it is exactly 0 there and TensorFlow's SqrtGrad gives 0 for a 0
  gradient, so no NaN appears (tests/lpips_test.py pins this).
  """
  squares = tf.reduce_sum(tf.square(features), axis=-1, keepdims=True)   # [..., 1]
  return features / (tf.sqrt(squares) + EPSILON)


def vgg16_taps(frames, kernels, biases) -> list[tf.Tensor]:
  """VGG16 features (3x3 'same' convs + ReLU, 2x2 max pools) at the five taps.

  Args:
    frames: f32[N, H, W, 3], already scaled. kernels: 13 f32[3, 3, in, out]; biases:
      13 f32[out].
  Returns:
    [relu1_2 f32[N, H, W, 64], relu2_2 [N, H/2, W/2, 128], relu3_3 [N, H/4, W/4, 256],
    relu4_3 [N, H/8, W/8, 512], relu5_3 [N, H/16, W/16, 512]], sizes floored.
  """
  x, taps, i = frames, [], 0
  for s, stage in enumerate(STAGES):
    if s:
      x = tf.nn.max_pool2d(x, 2, 2, 'VALID')       # torch's MaxPool2d(2, 2): floor.
    for _ in stage:
      x = tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(x, kernels[i], 1, 'SAME'), biases[i]))
      i += 1
    taps.append(x)
  return taps


def lpips_distance(a, b, kernels, biases, heads) -> tf.Tensor:
  """The LPIPS distance of each pair of frames; a pure function of the weights.

  Args:
    a, b: f32[N, H >= 16, W >= 16, 3] in [-1, 1].
    kernels, biases: as `vgg16_taps`. heads: 5 f32[C], non-negative.
  Returns:
    f32[N] >= 0: 0 for equal frames; symmetric in a and b.
  """
  check_frames_shape(a.shape)
  if not a.shape.is_compatible_with(b.shape):
    raise ValueError(f'LPIPS compares frames of one shape; got {a.shape} and {b.shape}')
  tf.debugging.assert_greater_equal(tf.shape(a)[1:3], MIN_SIZE,
                                    message=f'LPIPS needs frames of at least {MIN_SIZE} x '
                                            f'{MIN_SIZE} pixels')
  tf.debugging.assert_equal(tf.shape(a), tf.shape(b), message='LPIPS: a and b differ in shape')
  # Two passes, not one over concat([a, b]): a gradient then flows back through the
  # frames that need one (often only a), not through both batches.
  taps_a = vgg16_taps(scale_frames(a), kernels, biases)
  taps_b = vgg16_taps(scale_frames(b), kernels, biases)
  total = tf.zeros(tf.shape(a)[:1], a.dtype)
  for tap_a, tap_b, head in zip(taps_a, taps_b, heads):
    diff = tf.square(normalize_channels(tap_a) - normalize_channels(tap_b))   # [N, h, w, C]
    # The 1x1 head and the spatial mean are both linear: mean first, then [N, C] @ [C].
    total += tf.linalg.matvec(tf.reduce_mean(diff, axis=[1, 2]), head)
  return total


class Lpips(keras.layers.Layer):
  """LPIPS-VGG16 v0.1: `call(a, b)` with frames f32[N, H, W, 3] in [-1, 1] -> f32[N].

  Frames of at least 16 x 16 pixels; float32 under any global policy (inputs of another
  float dtype are cast). Weights are zeros until `load_lpips` (or `assign_weights`)
  sets them, and are never trainable. Gradients flow to both inputs.
  """

  def __init__(self, **kwargs):
    super().__init__(**{'dtype': 'float32', **kwargs})   # float32 under any global policy.

  def build(self, input_shape=None):
    for name, shape in expected_shapes().items():
      setattr(self, _attr(name), self.add_weight(shape=shape, initializer='zeros',
                                                 trainable=False, name=_attr(name)))

  def named_weights(self) -> dict:
    """The .npz names ('vgg16/conv1/kernel', ..., 'lin4/weight') -> this layer's variables."""
    return {name: getattr(self, _attr(name)) for name in expected_shapes()}

  def assign_weights(self, weights: dict) -> None:
    """Assigns arrays named as `expected_shapes()` (read_weights checks them)."""
    if not self.built:
      self.build()
    for name, variable in self.named_weights().items():
      variable.assign(np.asarray(weights[name], np.float32))

  def call(self, a, b):
    weights = self.named_weights()
    specs = conv_specs()
    return lpips_distance(
        tf.cast(a, tf.float32), tf.cast(b, tf.float32),
        [weights[f'vgg16/conv{i}/kernel'] for i, _, _ in specs],
        [weights[f'vgg16/conv{i}/bias'] for i, _, _ in specs],
        [weights[f'lin{k}/weight'] for k in range(len(TAP_CHANNELS))])

  def compute_output_shape(self, input_shape):
    return (input_shape[0],)


def _attr(name: str) -> str:
  return name.replace('vgg16/', '').replace('/', '_')


def _listed(kind: str, names: list[str]) -> str:
  if len(names) <= 1:
    return f'{kind} array {names[0]}' if names else ''
  more = ', ...' if len(names) > 3 else ''
  return f'{len(names)} {kind} arrays ({", ".join(names[:3])}{more})'


def read_weights(path) -> dict[str, np.ndarray]:
  """The .npz's arrays as float32, checked; LpipsWeightsError naming the file and problem."""
  path = os.fspath(path)

  def error(problem):
    return LpipsWeightsError(f'LPIPS weights {path!r}: {problem}. {HOW_TO}')

  if not os.path.exists(path):
    raise error('no such file')
  if not os.path.isfile(path):
    raise error('not a file')
  try:
    archive = np.load(path, allow_pickle=False)
  except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
    # numpy's own words for a pickle suggest loading it unsafely: say what it likely is.
    reason = 'it holds pickled data, like a PyTorch .pth' if 'pickled' in str(e) else e
    raise error(f'not an .npz archive ({reason})') from None
  if not isinstance(archive, np.lib.npyio.NpzFile):
    raise error(f'a single .npy array of shape {archive.shape}, not an .npz archive')
  with archive:
    shapes = expected_shapes()
    names = set(archive.files)
    if any(n.endswith('data.pkl') for n in names):
      raise error('a PyTorch checkpoint (a zip holding data.pkl), not the .npz')
    problems = [_listed('missing', [n for n in shapes if n not in names]),
                _listed('unexpected', sorted(names - set(shapes)))]
    problems = [p for p in problems if p]
    weights = {}
    for name in [n for n in shapes if n in names]:
      try:
        array = archive[name]
      except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        problems.append(f'array {name} cannot be read ({e})')
        continue
      if array.shape != shapes[name]:
        problems.append(f'array {name} has the shape {array.shape}, expected {shapes[name]}')
      elif not np.issubdtype(array.dtype, np.floating):
        problems.append(f'array {name} has the dtype {array.dtype}, expected float32')
      elif not np.all(np.isfinite(array)):
        problems.append(f'array {name} has non-finite values')
      elif name.startswith('lin') and np.any(array < 0):
        problems.append(f'array {name} has negative weights (v0.1 heads are non-negative)')
      else:
        weights[name] = array.astype(np.float32)
  if problems:
    shown = '; '.join(problems[:6]) + (f'; and {len(problems) - 6} more'
                                      if len(problems) > 6 else '')
    raise error(shown)
  return weights


def load_lpips(path, name: str = 'lpips') -> Lpips:
  """An Lpips layer holding the weights of the .npz at `path` (see docs/lpips.md).

  Raises:
    LpipsWeightsError: the file is missing, not an .npz, or an array is missing, extra,
      of another shape, not floating point, non-finite, or (a head) negative.
  """
  weights = read_weights(path)
  model = Lpips(name=name)
  model.build()
  model.assign_weights(weights)
  return model
