"""The frozen CLIP image encoder, behind one small interface.

    encoder = load_clip_encoder('/data/clip-vit-base-patch32')  # preset dir, .h5 or name
    embeddings = encoder.embed(frames)       # uint8[N, H, W, 3] -> f32[N, 512]
    encoder.fingerprint                      # hex digest of the weights, for cache keys

This is the only module that knows where CLIP comes from (keras-cv 0.9's
`CLIPImageEncoder`, ViT-B/32 in the paper). Another source (keras-hub, a
converted checkpoint) replaces `load_clip_encoder` and nothing else: the rest
of the system sees `ClipImageEncoder.embed`, `.output_dim` and `.fingerprint`.

Sources `load_clip_encoder` accepts:
  - a `.weights.h5` file of keras-cv's `CLIPImageEncoder` (what
    `encoder.save_weights(path)` writes), or of a whole keras-cv `CLIP` (its
    image tower is used);
  - a keras-cv CLIP preset directory (`config.json`, `model.weights.h5`), as
    `CLIP.from_preset` reads offline;
  - a keras-cv preset name (`clip-vit-base-patch32`): needs keras-nlp and
    network access to Kaggle (keras-cv's own route).
The architecture is read from the weights' shapes (patch size, width, input
resolution, depth, output width); heads are width / 64, CLIP's rule (ViT-B/32:
768 / 64 = 12), as keras-cv's `CLIP` sets them.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import pathlib
import tempfile

import numpy as np
import tensorflow as tf

# keras-cv's CLIPImageEncoder arguments of ViT-B/32, the paper's CLIP.
VIT_B32 = {'input_resolution': 224, 'patch_size': 32, 'width': 768, 'num_layers': 12,
           'heads': 12, 'output_dim': 512}
# CLIP's own image normalisation (openai/CLIP `_transform`), per RGB channel.
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
PRESET_WEIGHTS = 'model.weights.h5'
HEAD_WIDTH = 64

HOW_TO = (
    'Video-CLIP (--clip) needs the weights of a CLIP image encoder (the paper uses '
    'ViT-B/32). Supply them with --clip_weights=SOURCE, where SOURCE is (1) a local '
    'keras-cv CLIP preset directory holding config.json and model.weights.h5 (e.g. '
    'clip-vit-base-patch32 downloaded from https://www.kaggle.com/models/keras/clip), '
    '(2) a .weights.h5 file of keras-cv\'s CLIPImageEncoder or CLIP (model.save_weights), '
    'or (3) a keras-cv preset name such as clip-vit-base-patch32, which needs '
    '`pip install keras-nlp` and network access to Kaggle. See docs/clip.md.')


class ClipWeightsError(ValueError):
  """CLIP weights that are missing, unreadable, or not a CLIP image encoder."""


def preprocess(frames, resolution: int = 224) -> tf.Tensor:
  """CLIP's image preprocessing, as openai/CLIP's `_transform` does it.

  Resize so that the short side is `resolution` (bicubic, antialiased, the
  long side truncated as torchvision's Resize does), round to 8 bits as PIL
  does, centre-crop resolution x resolution, scale to [0, 1], normalise with
  CLIP's mean and std.

  Args:
    frames: uint8[N, H, W, 3] in [0, 255] (H and W may be dynamic).
    resolution: the encoder's input side (224 for ViT-B/32).
  Returns:
    f32[N, resolution, resolution, 3], about zero-mean, unit-std per channel.
  """
  frames = tf.convert_to_tensor(frames)
  size = tf.shape(frames)[1:3]                              # [H, W], static or not
  # Short side to `resolution`; the long one floored, as torchvision's int().
  new_size = resolution * size // tf.reduce_min(size)
  x = tf.image.resize(tf.cast(frames, tf.float32), new_size, method='bicubic',
                      antialias=True)
  x = tf.clip_by_value(tf.round(x), 0.0, 255.0) / 255.0
  # Python's round(), as torchvision's CenterCrop: half to even, like tf.round.
  top, left = tf.unstack(tf.cast(tf.round(tf.cast(new_size - resolution, tf.float32) / 2.0),
                                 tf.int32))
  x = x[:, top:top + resolution, left:left + resolution]
  x = tf.ensure_shape(x, [None, resolution, resolution, 3])    # [N, res, res, 3]
  return (x - tf.constant(CLIP_MEAN)) / tf.constant(CLIP_STD)


class ClipImageEncoder:
  """A frozen CLIP image tower: uint8 frames -> embeddings.

  Args:
    model: a built keras-cv `CLIPImageEncoder` (its weights never change here).
    architecture: its constructor arguments (VIT_B32's keys).
  """

  def __init__(self, model, architecture: dict):
    self.model = model
    self.architecture = dict(architecture)
    self.model.trainable = False
    self._forward = tf.function(
        lambda frames: self.model(preprocess(frames, self.resolution), training=False),
        reduce_retracing=True)

  @property
  def resolution(self) -> int:
    return self.architecture['input_resolution']

  @property
  def output_dim(self) -> int:
    return self.architecture['output_dim']

  def preprocess(self, frames) -> tf.Tensor:
    """uint8[N, H, W, 3] -> f32[N, res, res, 3] (see module `preprocess`)."""
    return preprocess(frames, self.resolution)

  def embed(self, frames, batch_size: int = 64) -> np.ndarray:
    """uint8[N, H, W, 3] in [0, 255] -> f32[N, output_dim], `batch_size` frames a call."""
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
      raise ValueError(
          f'embed needs uint8[N, H, W, 3], got {frames.dtype}{list(frames.shape)}.')
    out = [self._forward(tf.constant(frames[i:i + batch_size])).numpy()
           for i in range(0, len(frames), batch_size)]
    if not out:
      return np.zeros([0, self.output_dim], np.float32)
    return np.concatenate(out).astype(np.float32)

  @functools.cached_property
  def fingerprint(self) -> str:
    """sha256 of the architecture and every weight (order, shape, bytes): equal
    weights give equal fingerprints whatever file or preset they came from."""
    digest = hashlib.sha256(json.dumps(self.architecture, sort_keys=True).encode())
    for weight in self.model.weights:
      value = np.ascontiguousarray(np.asarray(weight), dtype=np.float32)
      digest.update(str(value.shape).encode())
      digest.update(value.tobytes())
    return digest.hexdigest()


def make_image_tower(architecture: dict):
  """A built, randomly initialised keras-cv CLIPImageEncoder (VIT_B32's keys)."""
  from keras_cv.src.models.feature_extractor.clip import clip_image_model
  model = clip_image_model.CLIPImageEncoder(**architecture, name='image_encoder')
  res = architecture['input_resolution']
  model.build((None, res, res, 3))
  return model


def find_encoder_group(h5file) -> str:
  """Path of the group holding a CLIPImageEncoder's weights ('' for the root).

  keras saves a standalone encoder at the file's root and a whole CLIP's image
  tower under `layers/clip_image_encoder`; search rather than assume.
  """
  def is_encoder(group) -> bool:
    return 'image_projector' in group and 'embeddings' in group and 'encoder' in group

  if is_encoder(h5file):
    return ''
  found = []
  h5file.visititems(lambda name, obj: found.append(name) if (
      hasattr(obj, 'keys') and is_encoder(obj)) else None)
  if not found:
    raise ClipWeightsError(
        f'{h5file.filename} holds no keras-cv CLIPImageEncoder weights (no group with '
        f'embeddings/, encoder/ and image_projector/). {HOW_TO}')
  return min(found, key=len)


def architecture_from_weights(group) -> dict:
  """CLIPImageEncoder arguments read from the shapes of its saved weights."""
  patch, _, _, width = group['embeddings/conv1/vars/0'].shape          # [p, p, 3, width]
  embedding_vars = [group['embeddings/vars'][k] for k in group['embeddings/vars']]
  positions = next(v.shape[0] for v in embedding_vars if len(v.shape) == 2)  # grid^2 + 1
  grid = int(round((positions - 1) ** 0.5))
  width_in, output_dim = group['image_projector/vars/0'].shape
  if grid * grid != positions - 1 or width_in != width or width % HEAD_WIDTH:
    raise ClipWeightsError(
        f'Weights in {group.file.filename} do not look like a CLIP ViT: patch {patch}, '
        f'width {width}, {positions} positions, projection {width_in} -> {output_dim}.')
  return {'input_resolution': grid * patch, 'patch_size': patch, 'width': width,
          'num_layers': len(group['encoder/resblocks']), 'heads': width // HEAD_WIDTH,
          'output_dim': output_dim}


def _load_weights_file(path: pathlib.Path) -> ClipImageEncoder:
  import h5py
  try:
    with h5py.File(path, 'r') as f:
      inner = find_encoder_group(f)
      architecture = architecture_from_weights(f[inner] if inner else f)
      model = make_image_tower(architecture)
      if not inner:
        model.load_weights(str(path))
        return ClipImageEncoder(model, architecture)
      # A whole CLIP: copy its image tower to the root of a file of its own,
      # the layout `load_weights` of a standalone encoder reads.
      with tempfile.TemporaryDirectory() as tmp:
        tower = os.path.join(tmp, 'image_encoder.weights.h5')
        with h5py.File(tower, 'w') as out:
          for name in f[inner]:
            f.copy(f[inner][name], out, name)
        model.load_weights(tower)
  except ClipWeightsError:
    raise
  except (OSError, KeyError, ValueError) as e:
    raise ClipWeightsError(f'Cannot load CLIP weights from {path}: {e}. {HOW_TO}') from e
  return ClipImageEncoder(model, architecture)


def _load_preset_name(name: str) -> ClipImageEncoder:
  from keras_cv.src.models.feature_extractor.clip import clip_model
  from keras_cv.src.models.feature_extractor.clip import clip_presets
  known = sorted(clip_presets.clip_presets)
  if name not in known:
    raise ClipWeightsError(f'--clip_weights={name!r} is neither an existing file or '
                           f'folder nor a keras-cv CLIP preset ({", ".join(known)}). '
                           f'{HOW_TO}')
  if clip_model.keras_nlp is None:
    raise ClipWeightsError(
        f'keras-cv loads the preset {name!r} by name only through keras_cv.models.CLIP, '
        'which needs keras-nlp (not importable here: pip install keras-nlp) and '
        f'downloads from Kaggle. Or use a local copy. {HOW_TO}')
  try:
    clip = clip_model.CLIP.from_preset(name)
  except Exception as e:  # Network, Kaggle and format errors all end here.
    raise ClipWeightsError(
        f'Could not load the keras-cv preset {name!r}: {e}. {HOW_TO}') from e
  tower = clip.get_layer('image_encoder')
  architecture = {k: getattr(tower, k) for k in VIT_B32}
  return ClipImageEncoder(tower, architecture)


def load_clip_encoder(spec: str | None) -> ClipImageEncoder:
  """The frozen CLIP image encoder named by `spec` (see the module docstring).

  Raises:
    ClipWeightsError: no spec, a missing path, or weights that do not load;
      the message says how to supply them.
  """
  if not spec:
    raise ClipWeightsError(f'No CLIP weights given. {HOW_TO}')
  path = pathlib.Path(spec).expanduser()
  if path.is_dir():
    weights = path / PRESET_WEIGHTS
    if not weights.is_file():
      raise ClipWeightsError(f'{path} is not a keras-cv preset directory: it has no '
                             f'{PRESET_WEIGHTS}. {HOW_TO}')
    return _load_weights_file(weights)
  if path.is_file():
    return _load_weights_file(path)
  if os.sep in spec or spec.endswith('.h5'):
    raise ClipWeightsError(f'--clip_weights={spec}: no such file or directory. {HOW_TO}')
  return _load_preset_name(spec)
