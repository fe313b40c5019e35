"""The denoising VQ-VAE-2 of paper Section 4.2: its config, loading and applying it.

    denoiser = load_denoiser('/tmp/balls')         # trained by inrv_tf.denoiser_train
    sharp = denoise_videos(denoiser, videos)       # f32[B, T, H, W, 3] in [-1, 1], same shape
    videos = maybe_denoise(videos, '/tmp/balls', enabled=FLAGS.denoise)   # one-liner

The VQ-VAE-2 (`inrv_tf.vqvae`) runs frame by frame. Its input is INR-V's
render of a training video at size x size, its target the real frame at that
size: a denoising autoencoder whose error is taken against the sharp frame.
Everything lives under <workdir>/denoiser/: denoiser_config.json,
checkpoints/, pairs/ (uint8 .npy memory maps of the pairs) and metrics.json.
This module never imports training code (the export and the commands that
render import it).

Frames of another size than the denoiser's are resized to size x size
(bilinear, antialiased), denoised, and resized back: a render larger than the
denoiser's size comes back with the denoiser's detail, not more.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import pathlib

import numpy as np
import tensorflow as tf

from inrv_tf import files
from inrv_tf import workdir as workdir_lib
from inrv_tf.data import pipeline as data_lib
from inrv_tf.denoiser import vqvae

SUFFIXES = ('.mp4', '.gif', '.npy')   # What `apply` reads and writes.
CONFIG_FILE = 'denoiser_config.json'
MAX_SIZE = 128          # The paper's evaluation size (FVD at 128 x 128).
FRAME_BATCH = 32        # Frames per VQ-VAE-2 pass when applying.
MODEL_FIELDS = ('hidden', 'res_hidden', 'res_layers', 'num_codes', 'code_dim', 'decay',
                'epsilon', 'commitment_cost')


class DenoiserError(ValueError):
  """No trained denoiser, a config that does not fit, or unusable frames."""


@dataclasses.dataclass(frozen=True)
class DenoiserConfig:
  """The VQ-VAE-2's sizes and how it is trained. The paper gives no numbers: the
  model's are Razavi et al.'s, the training's their Adam at 3e-4 on MSE.

  Attributes:
    size: side of the square frames it sees; a multiple of 8. None: the smaller
      of 128 and the dataset's stored side (rounded down to a multiple of 8).
    hidden ... commitment_cost: `vqvae.VQVAE2`'s arguments.
    loss: 'l2' (VQ-VAE's MSE) or 'l1', against the real frame.
    lr, batch_size (frames per step), steps, seed: Adam training.
    num_videos: training videos whose reconstructions make the pairs (None: all;
      a pair of uint8 frames takes 2 * size^2 * 3 bytes of disk).
    log_every, checkpoint_every, keep_checkpoints: bookkeeping.
  """
  size: int | None = None
  hidden: int = 128
  res_hidden: int = 64
  res_layers: int = 2
  num_codes: int = 512
  code_dim: int = 64
  decay: float = 0.99
  epsilon: float = 1e-5
  commitment_cost: float = 0.25
  loss: str = 'l2'
  lr: float = 3e-4
  batch_size: int = 32
  steps: int = 20_000
  seed: int = 0
  num_videos: int | None = 2048
  log_every: int = 100
  checkpoint_every: int = 1000
  keep_checkpoints: int = 3

  def model_kwargs(self) -> dict:
    return {name: getattr(self, name) for name in MODEL_FIELDS}

  def to_json(self) -> str:
    return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

  @classmethod
  def from_json(cls, text: str) -> 'DenoiserConfig':
    return cls(**json.loads(text))


def paper() -> DenoiserConfig:
  return DenoiserConfig()


def small() -> DenoiserConfig:
  """A CPU-sized denoiser for tests: `vqvae.SIZES['small']`, 32 x 32 frames."""
  return DenoiserConfig(size=32, **vqvae.SIZES['small'], lr=1e-3, batch_size=16,
                        steps=300, num_videos=None, log_every=50, checkpoint_every=100)


def validate(c: DenoiserConfig) -> None:
  if c.size is not None and (c.size < vqvae.DOWNSAMPLE or c.size % vqvae.DOWNSAMPLE):
    raise DenoiserError(f'Denoiser size must be a positive multiple of '
                        f'{vqvae.DOWNSAMPLE}, got {c.size}.')
  if c.loss not in ('l1', 'l2'):
    raise DenoiserError(f'Denoiser loss must be l1 or l2, got {c.loss!r}.')
  for name in ('batch_size', 'steps', 'log_every', 'checkpoint_every', 'keep_checkpoints',
               'hidden', 'res_hidden', 'res_layers', 'num_codes', 'code_dim'):
    if getattr(c, name) < 1:
      raise DenoiserError(f'Denoiser {name} must be positive, got {getattr(c, name)}.')
  if c.num_videos is not None and c.num_videos < 1:
    raise DenoiserError(f'Denoiser num_videos must be positive, got {c.num_videos}.')
  if c.lr <= 0:
    raise DenoiserError(f'Denoiser lr must be positive, got {c.lr}.')


def directory(workdir) -> pathlib.Path:
  """<workdir>/denoiser/: denoiser_config.json, checkpoints/, pairs/, metrics.json."""
  return workdir_lib.Workdir(workdir).denoiser


def resolve_size(c: DenoiserConfig, builder) -> DenoiserConfig:
  """Fills size None: min(128, the stored side), down to a multiple of 8."""
  if c.size is not None:
    return c
  stored = [s for s in data_lib.video_shape(builder)[1:3] if s is not None]
  side = min([MAX_SIZE] + stored) // vqvae.DOWNSAMPLE * vqvae.DOWNSAMPLE
  return dataclasses.replace(c, size=max(side, vqvae.DOWNSAMPLE))


# Applying ------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Denoiser:
  """A trained VQ-VAE-2 and the frame side it was trained at."""
  model: vqvae.VQVAE2
  config: DenoiserConfig

  @property
  def size(self) -> int:
    return self.config.size


def build(c: DenoiserConfig) -> vqvae.VQVAE2:
  """The VQ-VAE-2 of a config, with its variables (built on one blank frame)."""
  model = vqvae.VQVAE2(**c.model_kwargs())
  model(tf.zeros([1, c.size, c.size, 3]))
  return model


def denoise_tensor(model, videos, size: int, frame_batch: int = FRAME_BATCH) -> tf.Tensor:
  """Graph-safe denoising (any B, T, H, W, also unknown; the export wraps it).

  Args:
    videos: f32[B, T, H, W, 3] in [-1, 1].
  Returns:
    f32[B, T, H, W, 3] in [-1, 1]: every frame resized to size x size (if not
    already), passed through the VQ-VAE-2 `frame_batch` frames at a time
    (memory bounded by the batch), resized back.
  """
  videos = tf.convert_to_tensor(videos, tf.float32)
  shape = tf.shape(videos)
  frames = tf.reshape(videos, tf.concat([[-1], shape[2:]], 0))    # [B*T, H, W, 3]
  same = tf.logical_and(tf.equal(shape[2], size), tf.equal(shape[3], size))
  count = tf.shape(frames)[0]
  out = tf.TensorArray(tf.float32, size=(count + frame_batch - 1) // frame_batch,
                       infer_shape=False, element_shape=tf.TensorShape([None, None, None, 3]))
  for i in tf.range(out.size()):
    batch = frames[i * frame_batch:(i + 1) * frame_batch]
    x = tf.cond(same, lambda: batch, lambda: _resize(batch, [size, size]))
    y = tf.ensure_shape(model(tf.ensure_shape(x, [None, size, size, 3]), training=False)[0],
                        [None, size, size, 3])
    out = out.write(i, tf.cond(same, lambda: y, lambda: _resize(y, shape[2:4])))
  return tf.reshape(tf.clip_by_value(out.concat(), -1.0, 1.0), shape)


def _resize(frames, size) -> tf.Tensor:
  return tf.image.resize(frames, size, method='bilinear', antialias=True)


@tf.function(reduce_retracing=True)
def _denoise(model, videos, size, frame_batch):
  return denoise_tensor(model, videos, size, frame_batch)


def denoise_videos(denoiser: Denoiser, videos, frame_batch: int = FRAME_BATCH) -> np.ndarray:
  """f32[B, T, H, W, 3] in [-1, 1] -> the denoised f32[B, T, H, W, 3] in [-1, 1].

  Raises:
    DenoiserError: not [B, T, H, W, 3].
  """
  videos = np.asarray(videos, np.float32)
  if videos.ndim != 5 or videos.shape[-1] != 3 or 0 in videos.shape:
    raise DenoiserError(f'denoise_videos needs f32[B, T, H, W, 3], got {videos.shape}.')
  return _denoise(denoiser.model, tf.constant(videos), denoiser.size, int(frame_batch)).numpy()


def load_config(workdir) -> DenoiserConfig:
  path = directory(workdir) / CONFIG_FILE
  if not path.is_file():
    raise DenoiserError(f'No denoiser trained in {directory(workdir)} (no {CONFIG_FILE}): '
                        f'run python -m inrv_tf.denoise train --workdir={workdir} first.')
  return DenoiserConfig.from_json(path.read_text())


def load_denoiser(workdir, checkpoint: str | None = None) -> Denoiser:
  """The trained denoiser of an INR-V workdir (newest checkpoint, or `checkpoint`)."""
  config = load_config(workdir)
  path = checkpoint or tf.train.latest_checkpoint(str(directory(workdir) / 'checkpoints'))
  if path is None:
    raise DenoiserError(f'No denoiser checkpoint in {directory(workdir)}/checkpoints: '
                        f'its training has not saved yet; run the train command again.')
  model = build(config)
  try:
    tf.train.Checkpoint(model=model).read(path).assert_existing_objects_matched(
    ).expect_partial()
  except (AssertionError, ValueError, tf.errors.OpError) as e:
    raise DenoiserError(f'Denoiser checkpoint {path} does not match '
                        f'{directory(workdir) / CONFIG_FILE}: {e}') from e
  return Denoiser(model, config)


@functools.lru_cache(maxsize=2)
def _cached(workdir: str, checkpoint: str) -> Denoiser:
  return load_denoiser(workdir, checkpoint)


def cached_denoiser(workdir) -> Denoiser:
  """load_denoiser, loaded once per (workdir, newest checkpoint) per process."""
  load_config(workdir)       # The clear error when none was trained.
  path = tf.train.latest_checkpoint(str(directory(workdir) / 'checkpoints'))
  return _cached(str(pathlib.Path(workdir).resolve()), path or '')


def maybe_denoise(videos, workdir, enabled: bool):
  """`videos` unchanged unless enabled; then denoised by the workdir's denoiser.

  Args:
    videos: f32[B, T, H, W, 3] in [-1, 1], or uint8[B, T, H, W, 3].
  Returns:
    The same shape and kind (f32 numpy, or uint8 for uint8 input).
  """
  if not enabled:
    return videos
  denoiser = cached_denoiser(workdir)
  if np.asarray(videos).dtype == np.uint8:
    sharp = denoise_videos(denoiser, data_lib.to_float(videos).numpy())
    return data_lib.to_uint8(sharp).numpy()
  return denoise_videos(denoiser, videos)


def serving_variables(denoiser: Denoiser) -> dict:
  """The VQ-VAE-2's tf.Variables by path, for a tf.Module (the export) to track.

  Tracking the tf.Variables, not the Keras model, keeps the SavedModel loadable
  by TF Serving's session loader (see export/serving_module.hypernet_variables).
  """
  return {v.path.replace('/', '.'): v.value for v in denoiser.model.variables}


# Files ---------------------------------------------------------------------------
def input_files(path) -> list[pathlib.Path]:
  """The video files named by --input: one file, or a folder's, sorted."""
  path = pathlib.Path(path)
  if path.is_dir():
    found = sorted(p for p in path.iterdir() if p.suffix.lower() in SUFFIXES)
    if not found:
      raise ValueError(f'{path} holds no {"/".join(SUFFIXES)} files.')
    return found
  if not path.is_file():
    raise ValueError(f'No such video file or folder: {path}')
  if path.suffix.lower() not in SUFFIXES:
    raise ValueError(f'{path}: expected one of {", ".join(SUFFIXES)}.')
  return [path]


def denoise_files(workdir, paths, out, fps: int, log=print) -> list[pathlib.Path]:
  """Denoises each video file into <out>/<its name> (same format and shape)."""
  denoiser = load_denoiser(workdir)
  out = pathlib.Path(out)
  if any(f.parent.resolve() == out.resolve() for f in paths):
    raise ValueError(f'--out={out} holds the inputs: pick another folder.')
  out.mkdir(parents=True, exist_ok=True)
  written = []
  for path in paths:
    video = files.read_video(path)                                     # uint8[T, H, W, 3]
    sharp = denoise_videos(denoiser, data_lib.to_float(video[None]).numpy())
    sharp = data_lib.to_uint8(sharp[0]).numpy()
    target = out / path.name
    if target.suffix.lower() == '.npy':
      with files.atomic_path(target) as tmp:
        np.save(tmp, sharp)
    else:
      files.write_video(target, sharp, fps)
    written.append(target)
  log(f'Denoised {len(written)} videos at {denoiser.size} x {denoiser.size} into {out}.')
  return written
