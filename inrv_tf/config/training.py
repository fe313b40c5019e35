"""A training run's configuration: data, model, training (the presets: presets.py).

A run's `Config` is written to `<workdir>/config.json` once, and everything
downstream (resume, rendering, inversion, export) rebuilds the model from that
file, never from flags. Every section checks itself when it is built.

    python -m inrv_tf.train --preset=paper --dataset=how2sign_faces --workdir=/tmp/h2s
"""

from __future__ import annotations

import dataclasses
import json
import numbers
from typing import Any

LOSSES = ('l1', 'l2', 'weighted_l2')
PRECISIONS = ('auto', 'float32', 'bfloat16', 'float16')
LR_SCHEDULES = ('constant', 'cosine')

# Adam's epsilon everywhere (training, inversion, Single-INR): PyTorch's default,
# which the authors' release trains with (Keras's default is 1e-7).
ADAM_EPSILON = 1e-8

# Pixels per INR pass in training, rendering and inversion. It bounds the
# activations (about chunk x width floats per layer) and changes no result.
CHUNK_PIXELS = 32_768

# Defaults of a dataset that differ from a preset's (a flag given wins).
DATASET_DEFAULTS = {
    'moving_mnist': {'data': {'frames': 20}, 'train': {'loss': 'weighted_l2'}},
}


def dataset_defaults(dataset: str) -> dict[str, dict[str, Any]]:
  """DATASET_DEFAULTS of a dataset name, path or 'NAME/CONFIG' ({} if none).

  The last part of the name that is a key wins: 'moving_mnist',
  'moving_mnist/generated_5k_small' and 'datasets/moving_mnist' all give
  Moving-MNIST's.
  """
  for part in reversed(dataset.replace('\\', '/').split('/')):
    if part in DATASET_DEFAULTS:
      return DATASET_DEFAULTS[part]
  return {}


def check_video_size(frames, height, width, error: type = ValueError) -> None:
  """Raises `error` unless frames, height and width are positive integers (not bools)."""
  for name, value in (('frames', frames), ('height', height), ('width', width)):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
      raise error(f'{name} must be a positive integer, got {value!r}.')


def positive(prefix: str, **values) -> None:
  """Raises ValueError naming the first value (prefixed, e.g. '--') that is <= 0."""
  for name, value in values.items():
    if value is not None and value <= 0:
      raise ValueError(f'{prefix}{name} must be positive, got {value}.')


def one_of(name: str, value, choices) -> None:
  """Raises ValueError unless `value` is one of `choices`."""
  if value not in choices:
    raise ValueError(f'Unknown {name} {value!r}; expected one of {", ".join(choices)}.')


# Training -------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class DataConfig:
  """What the model is trained on.

  Attributes:
    dataset: name of a TFDS dataset folder under datasets/ (or a path to one),
      optionally with '/CONFIG', a builder config: 'moving_mnist/generated_5k_small'.
      `train --videos=DIR` records 'video_folder/f25_s128_st1_<digest>', the
      folder's clips as built (inrv_tf.data.video_folder).
    data_dir: where TFDS keeps prepared data; None means TFDS's default.
    split: TFDS split to train on.
    frames, height, width: the training video size; videos are cut to the first
      `frames` frames and resized (area, antialiased) to height x width.
    num_videos: train on the first N videos of the split (None: all of them).
    subset_seed: seeds which videos each progressive stage trains on (a random
      subset of the N, nested in the next stage's).
    pixel_fraction: fraction of a video's pixels each step sees (1.0: all).
    clip_weights: with Video-CLIP, where the frozen CLIP image encoder's weights
      come from: a keras-cv preset directory, a .weights.h5 file or a keras-cv
      preset name (inrv_tf.data.clip_encoder). Part of the data: the frame
      embeddings the model trains on are computed with it.
  """
  dataset: str = 'bouncing_balls'
  data_dir: str | None = None
  split: str = 'train'
  frames: int = 25
  height: int = 100
  width: int = 100
  num_videos: int | None = None
  subset_seed: int = 0
  pixel_fraction: float = 1.0
  clip_weights: str | None = None

  def __post_init__(self):
    check_video_size(self.frames, self.height, self.width)
    positive('', num_videos=self.num_videos)
    if not 0.0 < self.pixel_fraction <= 1.0:
      raise ValueError(f'pixel_fraction must be in (0, 1], got {self.pixel_fraction}.')


@dataclasses.dataclass(frozen=True)
class ModelConfig:
  """The hypernetwork, the INR and the latent table.

  Attributes:
    num_videos: rows of the auto-decoded latent table (one per training video).
    latent_dim: size of m, the hypernetwork's input.
    code_dim: size of the auto-decoded code c; None means latent_dim without
      CLIP and clip_dim with it (the authors' release).
    num_frequencies: NeRF positional-encoding octaves per axis.
    inr_widths: hidden widths of the INR (63 -> widths... -> out_channels).
    out_channels: RGB.
    hyper_width: width of every hypernetwork head's hidden layers.
    hyper_depth: hidden layers per head (128 -> 256, then depth - 1 of 256 -> 256).
    hyper_last_scale: the last layer of each head is He-normal times this.
    latent_init_std: std of the normal init of the latent table.
    clip: use the Video-CLIP branch (paper Section 3.2).
    clip_dim: width of the auto-decoded code c with CLIP when code_dim is None
      (512 in the paper, where it equals CLIP's width).
    clip_embedding_dim: width of the CLIP frame embeddings, the GRU's input: the
      image encoder's output (512 for ViT-B/32); None means clip_dim.
    gru_units, gru_layers, gru_dropout: the bidirectional GRU (g has 2 * units).
    merge_widths: hidden widths of phi, concat(g, c) -> ... -> latent_dim.
  """
  num_videos: int = 1
  latent_dim: int = 128
  code_dim: int | None = None
  num_frequencies: int = 10
  inr_widths: tuple[int, ...] = (256, 256, 256, 256)
  out_channels: int = 3
  hyper_width: int = 256
  hyper_depth: int = 4
  hyper_last_scale: float = 0.1
  latent_init_std: float = 0.01
  clip: bool = False
  clip_dim: int = 512
  clip_embedding_dim: int | None = None
  gru_units: int = 256
  gru_layers: int = 3
  gru_dropout: float = 0.1
  merge_widths: tuple[int, ...] = (512,)

  def __post_init__(self):
    if self.num_videos <= 0:
      raise ValueError(f'The latent table needs at least one video, got {self.num_videos}.')
    positive('', latent_dim=self.latent_dim, code_dim=self.code_dim,
              hyper_width=self.hyper_width, hyper_depth=self.hyper_depth,
              clip_embedding_dim=self.clip_embedding_dim)
    if not self.clip and self.resolved_code_dim != self.latent_dim:
      raise ValueError(f'Without CLIP the code is m itself: code_dim '
                       f'{self.resolved_code_dim} must equal latent_dim {self.latent_dim}.')

  @property
  def resolved_code_dim(self) -> int:
    if self.code_dim is not None:
      return self.code_dim
    return self.clip_dim if self.clip else self.latent_dim

  @property
  def resolved_clip_embedding_dim(self) -> int:
    return self.clip_dim if self.clip_embedding_dim is None else self.clip_embedding_dim


@dataclasses.dataclass(frozen=True)
class TrainConfig:
  """How the model is trained.

  Attributes:
    batch_size: global batch (videos per step, summed over replicas).
    steps: total optimizer steps of the run (a resumed run continues to it).
    lr: Adam learning rate (the peak of a schedule).
    lr_schedule: 'constant' (the paper) or 'cosine': from the end of the warmup,
      lr * (1 + cos(pi * progress)) / 2, reaching 0 at `steps`
      (inrv_tf.train.optimizers.LearningRate).
    warmup_steps: the first this many steps ramp the rate linearly from lr /
      warmup_steps to lr (0: none), before either schedule.
    adam_epsilon: Adam's epsilon (PyTorch's 1e-8, as the release).
    lpips_weight: adds this times LPIPS(VGG16) per frame to the loss (the release
      trains on L1 + 0.7 LPIPS; the paper describes L1 alone, the default 0).
    lpips_weights: the LPIPS .npz (docs/lpips.md), needed when lpips_weight > 0.
    loss: 'l1' (default), 'l2' or 'weighted_l2' (Moving-MNIST).
    seed: seeds initialisation, data order and pixel subsampling.
    precision: 'float32', 'bfloat16' or 'float16' matmuls in the INR's hidden
      layers (float32 master weights; float16 backpropagates each chunk's
      output gradient scaled by a power of two, `model.inr.chunked_inr_grads`), or
      'auto': bfloat16 where the hardware computes it natively (avx512_bf16 or
      AMX on a CPU, an Ampere or newer GPU), else float32. A run resolves it at
      its start (`train.distribute.resolve_precision`), logs the choice and
      records the resolved value in config.json.
    chunk_pixels: run the INR's forward and backward over this many pixels at a
      time (memory bounded by the chunk); None: all pixels at once.
    xla: compile the forward and backward pass with XLA (jit_compile).
    progressive: progressive training (DESIGN.md): stages of min(10^i, N) videos.
    stage_threshold: a stage (but the last) ends when its epoch-mean loss is below this.
    stage_max_epochs: epoch caps of the stages of 10, 100, 1,000 and 10,000 videos
      (the last entry caps any further non-final stage). The final stage, all
      videos, runs to `steps` (the authors' script stops it after 100 epochs).
    log_every, checkpoint_every, summary_videos, keep_checkpoints: bookkeeping.
    final_eval_videos: the end of a run measures reconstruction over this many
      training videos (ids 0..n-1; None: all of them, which at 35,000 videos and
      the paper's size takes hours on a CPU).
  """
  batch_size: int = 2
  steps: int = 100_000
  lr: float = 1e-4
  lr_schedule: str = 'constant'
  warmup_steps: int = 0
  adam_epsilon: float = ADAM_EPSILON
  loss: str = 'l1'
  lpips_weight: float = 0.0
  lpips_weights: str | None = None
  seed: int = 0
  precision: str = 'auto'
  chunk_pixels: int | None = None
  xla: bool = False
  progressive: bool = False
  stage_threshold: float = 1e-3
  stage_max_epochs: tuple[int, ...] = (710, 101, 50, 10)
  log_every: int = 100
  checkpoint_every: int = 1000
  summary_videos: int = 2
  final_eval_videos: int | None = None
  keep_checkpoints: int = 3

  def __post_init__(self):
    positive('', batch_size=self.batch_size, lr=self.lr, chunk_pixels=self.chunk_pixels,
              log_every=self.log_every, checkpoint_every=self.checkpoint_every,
              keep_checkpoints=self.keep_checkpoints)
    if self.steps < 0:
      raise ValueError(f'steps must be non-negative, got {self.steps}.')
    if self.warmup_steps < 0:
      raise ValueError(f'warmup_steps must be non-negative, got {self.warmup_steps}.')
    one_of('lr_schedule', self.lr_schedule, LR_SCHEDULES)
    if self.lr_schedule == 'cosine' and self.warmup_steps >= self.steps > 0:
      raise ValueError(f'A cosine schedule decays after the warmup: warmup_steps '
                       f'({self.warmup_steps}) must be below steps ({self.steps}).')
    one_of('loss', self.loss, LOSSES)
    one_of('precision', self.precision, PRECISIONS)


@dataclasses.dataclass(frozen=True)
class Config:
  """A training run: data, model and training, checked together when built."""
  data: DataConfig = DataConfig()
  model: ModelConfig = ModelConfig()
  train: TrainConfig = TrainConfig()

  def __post_init__(self):
    d, m = self.data, self.model
    if m.clip and not d.clip_weights:
      raise ValueError(
          'Video-CLIP (--clip) needs the weights of a CLIP image encoder (ViT-B/32 in '
          'the paper): pass --clip_weights=SOURCE, a keras-cv CLIP preset directory '
          '(config.json, model.weights.h5), a .weights.h5 file of keras-cv\'s '
          'CLIPImageEncoder, or a keras-cv preset name such as clip-vit-base-patch32 '
          '(needs keras-nlp and network). See docs/clip.md.')
    if d.clip_weights and not m.clip:
      raise ValueError(f'clip_weights={d.clip_weights!r} is set but Video-CLIP is off: '
                       'add --clip, or drop --clip_weights.')
    t = self.train
    if t.lpips_weight < 0:
      raise ValueError(f'lpips_weight must be >= 0, got {t.lpips_weight}.')
    if t.lpips_weight > 0:
      if not t.lpips_weights:
        raise ValueError('--lpips_weight needs the LPIPS weights: --lpips_weights=FILE '
                         '(an .npz; docs/lpips.md says how to write it).')
      if d.pixel_fraction < 1.0:
        raise ValueError('LPIPS compares whole frames: --lpips_weight needs '
                         f'--pixel_fraction=1, got {d.pixel_fraction}.')
      if min(d.height, d.width) < 16:
        raise ValueError(f'LPIPS needs frames of at least 16 x 16, got {d.height} x {d.width}.')

  def to_dict(self) -> dict[str, Any]:
    return dataclasses.asdict(self)

  def to_json(self) -> str:
    return json.dumps(self.to_dict(), indent=2, sort_keys=True)

  @classmethod
  def from_dict(cls, d: dict[str, Any]) -> 'Config':
    return cls(data=_build(DataConfig, d.get('data', {})),
               model=_build(ModelConfig, d.get('model', {})),
               train=_build(TrainConfig, d.get('train', {})))

  @classmethod
  def from_json(cls, text: str) -> 'Config':
    return cls.from_dict(json.loads(text))

  def replace(self, **sections: dict[str, Any]) -> 'Config':
    """Returns a copy with fields of named sections replaced (and checked).

    Example: `config.replace(train={'steps': 10}, data={'frames': 8})`.
    """
    new = {}
    for name, changes in sections.items():
      section = getattr(self, name)
      new[name] = dataclasses.replace(section, **changes)
    return dataclasses.replace(self, **new)


def _build(cls, d: dict[str, Any]):
  """Builds a section dataclass from a dict, turning JSON lists into tuples."""
  names = {f.name for f in dataclasses.fields(cls)}
  unknown = set(d) - names
  if unknown:
    raise ValueError(f'Unknown {cls.__name__} fields: {sorted(unknown)}')
  kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
  return cls(**kwargs)


def validate(config: Config) -> Config:
  """Checks a config again (every Config checks itself when built); returns it."""
  return Config.from_dict(config.to_dict())


# What a resumed run may change; each takes effect from the resume on. Everything
# else (the model, the data, the objective, the order) must match the saved run.
RESUMABLE = ('steps', 'lr', 'lr_schedule', 'warmup_steps', 'log_every', 'checkpoint_every',
             'keep_checkpoints', 'summary_videos', 'final_eval_videos', 'precision',
             'chunk_pixels', 'xla', 'lpips_weights')


def resume_changes(saved: Config, requested: Config) -> dict[str, tuple]:
  """{'train.lr': (saved, requested), ...}: the resumable settings that differ.

  Raises:
    ValueError: a setting that may not change on resume, saved against requested,
      e.g. 'latent_dim: saved 8, requested 9' (the model or data) or
      'was trained with loss=...' (training).
  """
  for section in ('model', 'data'):
    a, b = getattr(saved, section), getattr(requested, section)
    diffs = [f'{f.name}: saved {getattr(a, f.name)!r}, requested {getattr(b, f.name)!r}'
             for f in dataclasses.fields(a) if getattr(a, f.name) != getattr(b, f.name)]
    if diffs:
      raise ValueError(f'a different {section} configuration:\n  ' + '\n  '.join(diffs))
  changes = {}
  for f in dataclasses.fields(TrainConfig):
    a, b = getattr(saved.train, f.name), getattr(requested.train, f.name)
    if a == b:
      continue
    if f.name not in RESUMABLE:
      raise ValueError(f'{f.name}={a!r}; requested {b!r} (a resume may change only '
                       f'{", ".join(RESUMABLE)})')
    changes[f'train.{f.name}'] = (a, b)
  return changes
