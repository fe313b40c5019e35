"""InrvModel: video id -> latent m -> hypernetwork -> per-video INR -> RGB.

    model = build_model(config.model)
    m = model.latent(video_id)                            # f32[B, latent_dim]
    rgb = model.decode(m, encoded_grid(T, H, W, K))       # f32[B, T*H*W, 3] in ~[-1, 1]

Variable groups are properties (`latent_variables`, `hypernet_variables`,
`clip_variables`), so the optimizer and inversion never pick variables by name.
A Video-CLIP model also holds `learned_m`, the m of every training video, as
non-trainable state in its checkpoint: inference on the learned space (render,
sample, invert, export) then never needs CLIP.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import keras
import numpy as np
import tensorflow as tf

from inrv_tf import config as config_lib
from inrv_tf.model import encoding
from inrv_tf.model import hypernetwork
from inrv_tf.model import inr
from inrv_tf.model import latents
from inrv_tf.model import video_clip


class InrvModel(keras.Model):
  """The INR-V decoder and its latent space.

  Args: the fields of `config.ModelConfig` (see there), plus `seed`.
  Call arguments:
    inputs: dict with 'video_id' int[B], 'features' f32[P, F] (the encoded grid,
      shared by the batch) and, with CLIP, 'frame_embeddings'
      f32[B, T, clip_embedding_dim] (model_config.resolved_clip_embedding_dim).
  Returns:
    f32[B, P, 3], RGB meant to lie in [-1, 1].
  """

  def __init__(self, num_videos: int = 1, latent_dim: int = 128,
               code_dim: int | None = None, num_frequencies: int = 10,
               inr_widths: Sequence[int] = (256, 256, 256, 256), out_channels: int = 3,
               hyper_width: int = 256, hyper_depth: int = 4,
               hyper_last_scale: float = 0.1, latent_init_std: float = 0.01,
               clip: bool = False, clip_dim: int = 512,
               clip_embedding_dim: int | None = None, gru_units: int = 256,
               gru_layers: int = 3, gru_dropout: float = 0.1,
               merge_widths: Sequence[int] = (512,), seed: int | None = None, **kwargs):
    super().__init__(**kwargs)
    self.model_config = config_lib.ModelConfig(
        num_videos=num_videos, latent_dim=latent_dim, code_dim=code_dim,
        num_frequencies=num_frequencies, inr_widths=tuple(inr_widths),
        out_channels=out_channels, hyper_width=hyper_width, hyper_depth=hyper_depth,
        hyper_last_scale=hyper_last_scale, latent_init_std=latent_init_std,
        clip=clip, clip_dim=clip_dim, clip_embedding_dim=clip_embedding_dim,
        gru_units=gru_units, gru_layers=gru_layers,
        gru_dropout=gru_dropout, merge_widths=tuple(merge_widths))
    self.seed = seed
    cfg = self.model_config
    self.spec = inr.InrSpec(encoding.num_features(num_frequencies),
                            tuple(inr_widths), out_channels)
    self.latents = latents.LatentTable(num_videos, cfg.resolved_code_dim,
                                       latent_init_std, seed=seed, name='latents')
    self.hypernet = hypernetwork.HyperNetwork(
        self.spec.param_shapes, latent_dim, hyper_width, hyper_depth,
        hyper_last_scale, seed=seed, name='hypernet')
    if clip:
      self.clip_encoder = video_clip.VideoClipEncoder(
          gru_units, gru_layers, gru_dropout, name='video_clip')
      self.merge = video_clip.MergeNetwork(latent_dim, merge_widths, name='merge')

  def build(self, input_shape=None):
    cfg = self.model_config
    self.latents.build((None,))
    self.hypernet.build((None, cfg.latent_dim))
    if cfg.clip:
      self.clip_encoder.build((None, None, cfg.resolved_clip_embedding_dim))
      self.merge.build((None, 2 * cfg.gru_units + cfg.resolved_code_dim))
      # Zeros until training stores the table (store_learned_m) before each checkpoint.
      self.learned_m = self.add_weight(name='learned_m',
                                       shape=(cfg.num_videos, cfg.latent_dim),
                                       initializer='zeros', trainable=False)
    self.built = True

  # Variable groups ---------------------------------------------------------
  @property
  def latent_variables(self) -> list:
    return list(self.latents.trainable_variables)

  @property
  def hypernet_variables(self) -> list:
    return list(self.hypernet.trainable_variables)

  @property
  def checkpointed_variables(self) -> list:
    """Everything a checkpoint holds of the model: the weights and the learned m table."""
    state = [self.learned_m] if self.model_config.clip else []
    return list(self.trainable_variables) + state

  @property
  def clip_variables(self) -> list:
    if not self.model_config.clip:
      return []
    return list(self.clip_encoder.trainable_variables) + list(
        self.merge.trainable_variables)

  # The chain ---------------------------------------------------------------
  def latent(self, video_id, frame_embeddings=None, training=False) -> tf.Tensor:
    """Video ids (and, with CLIP, their frame embeddings) -> m f32[B, latent_dim]."""
    c = self.latents(video_id)
    if not self.model_config.clip:
      return c
    if frame_embeddings is None:
      raise ValueError('This model was trained with Video-CLIP: latent() needs '
                       'the frame embeddings of the videos.')
    g = self.clip_encoder(frame_embeddings, training=training)
    return self.merge(g, c)

  def training_latents(self) -> np.ndarray:
    """m of every training video, f32[num_videos, latent_dim].

    Without Video-CLIP, m is the auto-decoded code: the latent table. With it,
    m = phi(g, c) needs the videos' frame embeddings; training stores that
    table in the model (`store_learned_m`) before every checkpoint.

    Raises:
      ValueError: a Video-CLIP model whose table was never stored.
    """
    if not self.model_config.clip:
      return np.array(self.latents.codes, np.float32)
    table = np.array(self.learned_m, np.float32)
    if not np.any(table):
      raise ValueError('This Video-CLIP model holds no learned m yet: load it from a '
                       'checkpoint that training wrote (inrv_tf.workdir.load_model).')
    return table

  def latent_table(self, frame_embeddings, batch_size: int = 256) -> np.ndarray:
    """m of every training video from its frame embeddings: f32[num_videos, latent_dim].

    Args:
      frame_embeddings: f32[num_videos, T, D], indexable by an int array of ids
        (ignored without CLIP: m is the code table).
    """
    cfg = self.model_config
    if not cfg.clip:
      return np.array(self.latents.codes, np.float32)
    if len(frame_embeddings) != cfg.num_videos:
      raise ValueError(f'{len(frame_embeddings)} videos of embeddings for a latent table '
                       f'of {cfg.num_videos}.')
    out = []
    for start in range(0, cfg.num_videos, batch_size):
      ids = np.arange(start, min(start + batch_size, cfg.num_videos))
      out.append(self.latent(tf.constant(ids, tf.int32),
                             tf.constant(frame_embeddings[ids], tf.float32)).numpy())
    return np.concatenate(out).astype(np.float32)

  def store_learned_m(self, frame_embeddings) -> None:
    """Computes `latent_table` and keeps it in `learned_m` (checkpointed state)."""
    if self.model_config.clip:
      self.learned_m.assign(self.latent_table(frame_embeddings))

  def inr_params(self, m) -> list[tf.Tensor]:
    """m f32[B, latent_dim] -> [W0 f32[B, in, out], b0 f32[B, out], ...]."""
    return self.hypernet(m)

  def decode(self, m, features, compute_dtype=tf.float32) -> tf.Tensor:
    """m f32[B, latent_dim], features f32[P, F] -> RGB f32[B, P, 3]."""
    return inr.apply_inr(self.inr_params(m), features, compute_dtype)

  def call(self, inputs, training=False):
    m = self.latent(inputs['video_id'], inputs.get('frame_embeddings'),
                    training=training)
    return self.decode(m, inputs['features'])

  def encoded_grid(self, frames: int, height: int, width: int) -> np.ndarray:
    """The encoded grid f32[frames * height * width, F] (cached per shape)."""
    return encoding.encoded_grid(frames, height, width,
                                 self.model_config.num_frequencies)

  def get_config(self):
    config = dataclasses.asdict(self.model_config)
    config['inr_widths'] = list(config['inr_widths'])
    config['merge_widths'] = list(config['merge_widths'])
    config['seed'] = self.seed
    return config


def build_model(model_config: config_lib.ModelConfig, seed: int | None = None) -> InrvModel:
  """Builds an InrvModel with all its variables created."""
  kwargs = dataclasses.asdict(model_config)
  model = InrvModel(**kwargs, seed=seed)
  model.build()
  return model
