"""The training step: the state a checkpoint holds, and the one tf.function of training.

    state = create_state(config, strategy)              # model + optimizer, built in scope
    step = make_train_step(state, config, strategy, features)
    out = step(batch)                                   # {'loss', 'mse'}: global means

`make_train_step` runs forward, loss and backward per replica under
`strategy.run` (chunk by chunk over pixels when `chunk_pixels` is set) and
applies Adam; it returns scalars and never logs or saves.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import keras
import tensorflow as tf

from inrv_tf import config as config_lib
from inrv_tf.model import inr
from inrv_tf.model import inrv as model_lib
from inrv_tf.model import losses
from inrv_tf.train import distribute
from inrv_tf.train import optimizers


@dataclasses.dataclass
class TrainState:
  """Everything a checkpoint holds."""
  model: model_lib.InrvModel
  optimizer: keras.optimizers.Optimizer
  step: tf.Variable          # optimizer steps done
  stage: tf.Variable         # index of the progressive stage
  stage_start: tf.Variable   # step at which that stage began

  def checkpoint(self) -> tf.train.Checkpoint:
    return tf.train.Checkpoint(model=self.model, optimizer=self.optimizer,
                               step=self.step, stage=self.stage,
                               stage_start=self.stage_start)


def compute_dtype(precision: str) -> tf.DType:
  """The matmul dtype of a TrainConfig.precision ('auto' resolved for this machine)."""
  precision, _ = distribute.resolve_precision(precision)
  return tf.as_dtype(precision)


def create_state(config: config_lib.Config, strategy: tf.distribute.Strategy) -> TrainState:
  """Builds the model and optimizer with every variable created (in scope)."""
  with strategy.scope():
    model = model_lib.build_model(config.model, seed=config.train.seed)
    optimizer = optimizers.FusedAdam(learning_rate=config.train.lr,
                                     epsilon=config.train.adam_epsilon,
                                     schedule=optimizers.schedule(config.train))
    optimizer.build(model.trainable_variables)
    state = TrainState(model, optimizer,
                       tf.Variable(0, dtype=tf.int64, trainable=False, name='step'),
                       tf.Variable(0, dtype=tf.int64, trainable=False, name='stage'),
                       tf.Variable(0, dtype=tf.int64, trainable=False, name='stage_start'))
  return state


def sampled_pixels(num_pixels: int, fraction: float) -> int:
  """How many of a video's pixels a step trains on (at least one)."""
  return max(1, int(round(num_pixels * fraction)))


def sample_pixels(num_pixels: int, fraction: float, seed: int, step) -> tf.Tensor:
  """The pixel indices a step trains on: a random subset, a function of (seed, step)."""
  count = sampled_pixels(num_pixels, fraction)
  perm = tf.random.experimental.stateless_shuffle(
      tf.range(num_pixels), seed=tf.stack([tf.cast(seed, tf.int64),
                                           tf.cast(step, tf.int64)]))
  return tf.sort(perm[:count])


def make_train_step(state: TrainState, config: config_lib.Config,
                    strategy: tf.distribute.Strategy, features: tf.Variable,
                    jit_compile: bool = False, lpips=None) -> Callable:
  """Returns step(batch) -> {'loss', 'mse', 'grad_sq'} scalars.

  loss and mse are global means; grad_sq is the sum over replicas of each
  replica's squared gradient norm: finite exactly when every gradient is, so
  the loop can tell a diverged step (and never keep the state it leads into).

  Args:
    features: the encoded grid f32[P, F] of the stage's video shape (a
      variable made in the strategy's scope: one copy per device).
    jit_compile: compile the forward and backward pass with XLA.
    lpips: with config.train.lpips_weight > 0, the loaded `model.lpips.Lpips`
      (frozen); the loss adds lpips_weight x LPIPS of every frame.
  """
  loss_fn = losses.get(config.train.loss)
  model, optimizer = state.model, state.optimizer
  variables = model.trainable_variables
  global_batch = config.train.batch_size
  fraction = config.data.pixel_fraction
  num_pixels = int(features.shape[0])
  dtype = compute_dtype(config.train.precision)
  seed = config.train.seed

  # float16 scales its gradients chunk by chunk (inr.chunked_inr_grads): without
  # chunks, one chunk of every pixel.
  chunk = config.train.chunk_pixels or (num_pixels if dtype == tf.float16 else None)
  clip = config.model.clip
  lpips_weight = config.train.lpips_weight
  frames, height, width = config.data.frames, config.data.height, config.data.width

  def frame_lpips(pred, target):
    """LPIPS of every frame, averaged per video: f32[b, P, 3] twice -> f32[b]."""
    b = tf.shape(pred)[0]
    distance = lpips(tf.reshape(pred, [-1, height, width, 3]),     # [b*T, H, W, 3]
                     tf.reshape(target, [-1, height, width, 3]))
    return tf.reduce_mean(tf.reshape(distance, [b, frames]), axis=1)

  def loss_and_grads(video, video_id, step, frame_embeddings=None):
    """Forward and backward on this replica's videos -> loss, mse, gradients.

    With Video-CLIP, frame_embeddings f32[b, T, D] (from the cache) feed the GRU.
    """
    target = tf.reshape(video, [tf.shape(video)[0], num_pixels, 3])  # [b, T*H*W, 3]
    feats = tf.convert_to_tensor(features)
    if fraction < 1.0:
      index = sample_pixels(num_pixels, fraction, seed, step)
      feats = tf.gather(feats, index)
      target = tf.gather(target, index, axis=1)
    with tf.GradientTape() as tape:
      m = model.latent(video_id, frame_embeddings, training=True)
      params = model.inr_params(m)
      if not chunk:
        pred = inr.apply_inr(params, feats, dtype)
        per_video = loss_fn(pred, target)
        if lpips_weight:
          per_video += lpips_weight * frame_lpips(pred, target)
        loss = tf.nn.compute_average_loss(per_video, global_batch_size=global_batch)
    if chunk:
      lpips_grads = perceptual = None
      if lpips_weight:
        # LPIPS needs whole frames: render them (no gradient kept), take LPIPS's
        # gradient w.r.t. the pixels, and push it back through the INR by chunks.
        whole = inr.apply_inr_chunked(params, feats, chunk, dtype)
        with tf.GradientTape() as pixel_tape:
          pixel_tape.watch(whole)
          perceptual = frame_lpips(whole, target)                      # [b]
          total_perceptual = tf.reduce_sum(perceptual)
        lpips_grads = lpips_weight * pixel_tape.gradient(total_perceptual, whole)
      per_video, per_video_mse, param_grads = inr.chunked_inr_grads(
          params, feats, target, loss_fn, chunk, dtype, output_grads=lpips_grads)
      if lpips_weight:
        per_video += lpips_weight * perceptual
      scale = 1.0 / global_batch
      grads = tape.gradient(params, variables,
                            output_gradients=[g * scale for g in param_grads])
    else:
      per_video_mse = losses.l2(pred, target)
      grads = tape.gradient(loss, variables)
    # The latent table's gradient comes as IndexedSlices; as a dense tensor Adam
    # treats the table like the release does (a dense torch.nn.Embedding).
    grads = [tf.convert_to_tensor(g) for g in grads]
    loss = tf.nn.compute_average_loss(per_video, global_batch_size=global_batch)
    mse = tf.nn.compute_average_loss(per_video_mse, global_batch_size=global_batch)
    return loss, mse, grads

  if jit_compile:
    loss_and_grads = tf.function(loss_and_grads, jit_compile=True)

  def replica_step(video, video_id, step, *frame_embeddings):
    loss, mse, grads = loss_and_grads(video, video_id, step, *frame_embeddings)
    grad_sq = tf.add_n([tf.reduce_sum(tf.square(g)) for g in grads])
    optimizer.apply_gradients(zip(grads, variables))
    return loss, mse, grad_sq

  @tf.function
  def train_step(batch):
    step = state.step
    clip_input = (batch['frame_embeddings'],) if clip else ()
    out = strategy.run(replica_step,
                       args=(batch['video'], batch['video_id'], step) + clip_input)
    state.step.assign_add(1)
    return {name: strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None)
            for name, value in zip(('loss', 'mse', 'grad_sq'), out)}

  return train_step
