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
  return {'float32': tf.float32, 'bfloat16': tf.bfloat16}[precision]


def create_state(config: config_lib.Config, strategy: tf.distribute.Strategy) -> TrainState:
  """Builds the model and optimizer with every variable created (in scope)."""
  with strategy.scope():
    model = model_lib.build_model(config.model, seed=config.train.seed)
    optimizer = optimizers.FusedAdam(learning_rate=config.train.lr)
    optimizer.build(model.trainable_variables)
    state = TrainState(model, optimizer,
                       tf.Variable(0, dtype=tf.int64, trainable=False, name='step'),
                       tf.Variable(0, dtype=tf.int64, trainable=False, name='stage'),
                       tf.Variable(0, dtype=tf.int64, trainable=False, name='stage_start'))
  return state


def sample_pixels(num_pixels: int, fraction: float, seed: int, step) -> tf.Tensor:
  """The pixel indices a step trains on: a random subset, a function of (seed, step)."""
  count = max(1, int(round(num_pixels * fraction)))
  perm = tf.random.experimental.stateless_shuffle(
      tf.range(num_pixels), seed=tf.stack([tf.cast(seed, tf.int64),
                                           tf.cast(step, tf.int64)]))
  return tf.sort(perm[:count])


def make_train_step(state: TrainState, config: config_lib.Config,
                    strategy: tf.distribute.Strategy, features: tf.Variable,
                    jit_compile: bool = False) -> Callable:
  """Returns step(batch) -> {'loss', 'mse'} scalars (global means).

  Args:
    features: the encoded grid f32[P, F] of the stage's video shape (a
      variable made in the strategy's scope: one copy per device).
    jit_compile: compile the forward and backward pass with XLA.
  """
  loss_fn = losses.get(config.train.loss)
  model, optimizer = state.model, state.optimizer
  variables = model.trainable_variables
  global_batch = config.train.batch_size
  fraction = config.data.pixel_fraction
  num_pixels = int(features.shape[0])
  dtype = compute_dtype(config.train.precision)
  seed = config.train.seed

  chunk = config.train.chunk_pixels
  clip = config.model.clip

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
        loss = tf.nn.compute_average_loss(per_video, global_batch_size=global_batch)
    if chunk:
      per_video, per_video_mse, param_grads = inr.chunked_inr_grads(
          params, feats, target, loss_fn, chunk, dtype)
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
    optimizer.apply_gradients(zip(grads, variables))
    return loss, mse

  @tf.function
  def train_step(batch):
    step = state.step
    clip_input = (batch['frame_embeddings'],) if clip else ()
    loss, mse = strategy.run(replica_step,
                             args=(batch['video'], batch['video_id'], step) + clip_input)
    state.step.assign_add(1)
    return {'loss': strategy.reduce(tf.distribute.ReduceOp.SUM, loss, axis=None),
            'mse': strategy.reduce(tf.distribute.ReduceOp.SUM, mse, axis=None)}

  return train_step
