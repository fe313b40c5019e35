"""Training: the step function and the loop that owns state, logs and checkpoints.

    summary = run(config, workdir)       # trains, resumes, checkpoints, writes outputs

`make_train_step` builds the only `tf.function` of training (run under
`strategy.run`); `run` is the Python loop: progressive stages, logging, the
non-finite-loss check, checkpoints and the final reconstructions and metrics.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import shutil
import time
from typing import Callable

import keras
import numpy as np
import tensorflow as tf

from inrv_tf import workdir as workdir_lib
from inrv_tf.data import clip_cache
from inrv_tf.data import clip_encoder
from inrv_tf import config as config_lib
from inrv_tf.data import pipeline as data_lib
from inrv_tf.train import distribute
from inrv_tf.model import inr
from inrv_tf import files
from inrv_tf.model import losses
from inrv_tf.model import metrics
from inrv_tf.model import inrv as model_lib
from inrv_tf.train import optimizers
from inrv_tf.model import render
from inrv_tf.train import schedule

CHECKPOINT_DIR = workdir_lib.CHECKPOINT_DIR


class WorkdirError(ValueError):
  """A workdir that cannot be used with the requested configuration."""


class NonFiniteLossError(FloatingPointError):
  """The loss became NaN or infinite."""


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


def psnr_from_mse(mse: float) -> float:
  """PSNR in dB of an MSE measured on [-1, 1] videos (peak-to-peak 2)."""
  return float(10.0 * np.log10(4.0 / max(mse, 1e-12)))


def _check_config(workdir: pathlib.Path, config: config_lib.Config) -> None:
  """Refuses a workdir trained with another model or data configuration."""
  if not files.config_path(workdir).exists():
    return
  try:
    saved = files.read_config(workdir)
  except (ValueError, TypeError) as e:
    raise WorkdirError(f'{files.config_path(workdir)} is unreadable: {e}') from e
  for section in ('model', 'data'):
    a, b = getattr(saved, section), getattr(config, section)
    diffs = [f'{f.name}: saved {getattr(a, f.name)!r}, requested {getattr(b, f.name)!r}'
             for f in dataclasses.fields(a) if getattr(a, f.name) != getattr(b, f.name)]
    if diffs:
      raise WorkdirError(
          f'{workdir} holds a run with a different {section} configuration:\n  '
          + '\n  '.join(diffs) + '\nUse another --workdir, or the saved settings.')
  for name in ('loss', 'precision', 'seed', 'batch_size'):
    a, b = getattr(saved.train, name), getattr(config.train, name)
    if a != b:
      raise WorkdirError(f'{workdir} was trained with {name}={a!r}; requested {b!r}. '
                         'Use another --workdir, or the saved setting.')


def prepare_workdir(workdir, config: config_lib.Config, chief: bool = True) -> pathlib.Path:
  """Checks a workdir (new, or the same configuration) and writes its config.json."""
  workdir = pathlib.Path(workdir)
  if workdir.exists() and not workdir.is_dir():
    raise WorkdirError(f'--workdir {workdir} exists and is not a directory.')
  try:
    workdir.mkdir(parents=True, exist_ok=True)
  except OSError as e:
    raise WorkdirError(f'Cannot create --workdir {workdir}: {e}') from e
  if not os.access(workdir, os.R_OK | os.W_OK | os.X_OK):
    raise WorkdirError(f'--workdir {workdir} is not readable and writable.')
  _check_config(workdir, config)
  if chief:
    files.write_config(workdir, config)
  return workdir


def resolve_num_videos(config: config_lib.Config, builder) -> config_lib.Config:
  """Sets model.num_videos (the latent table) from the dataset and --num_videos."""
  available = data_lib.num_examples(builder, config.data.split)
  n = config.data.num_videos or available
  if n > available:
    raise data_lib.DataError(f'--num_videos={n} but dataset {builder.name!r} has '
                             f'{available} videos in split {config.data.split!r}.')
  return config.replace(model={'num_videos': n})


def load_clip(config: config_lib.Config) -> clip_encoder.ClipImageEncoder | None:
  """The frozen CLIP image encoder of a Video-CLIP run (None without CLIP).

  Raises:
    clip_encoder.ClipWeightsError: unloadable weights, or embeddings of another
      width than the model's GRU takes.
  """
  if not config.model.clip:
    return None
  encoder = clip_encoder.load_clip_encoder(config.data.clip_weights)
  want = config.model.resolved_clip_embedding_dim
  if encoder.output_dim != want:
    raise clip_encoder.ClipWeightsError(
        f'The CLIP encoder of {config.data.clip_weights} gives {encoder.output_dim}-wide '
        f'embeddings; the model\'s GRU takes clip_embedding_dim={want}.')
  return encoder


class _Checkpointer:
  """CheckpointManager for the chief; other workers write to a scratch folder."""

  def __init__(self, state: TrainState, workdir: pathlib.Path,
               strategy: tf.distribute.Strategy, keep: int):
    self.chief = distribute.is_chief(strategy)
    self.directory = workdir / CHECKPOINT_DIR
    write_dir = self.directory if self.chief else (
        workdir / f'.scratch_{distribute.worker_id(strategy)}')
    self.checkpoint = state.checkpoint()
    self.manager = tf.train.CheckpointManager(self.checkpoint, write_dir, keep)
    self.write_dir = write_dir

  def restore(self) -> str | None:
    latest = tf.train.latest_checkpoint(self.directory)
    if latest:
      self.checkpoint.restore(latest).assert_existing_objects_matched()
    return latest

  def save(self, step: int) -> str:
    path = self.manager.save(checkpoint_number=step)
    if not self.chief:
      shutil.rmtree(self.write_dir, ignore_errors=True)
    return path


def run(config: config_lib.Config, workdir, strategy: tf.distribute.Strategy | None = None,
        log: Callable[[str], None] = print) -> dict:
  """Trains (or resumes) a run in `workdir`; returns the final metrics.

  Raises:
    WorkdirError, data.DataError: bad workdir or data (nothing is written).
    NonFiniteLossError: the loss became NaN/inf; the last good checkpoint stays.
  """
  config_lib.validate(config.replace(model={'num_videos': max(1, config.model.num_videos)}))
  strategy = strategy or tf.distribute.get_strategy()
  chief = distribute.is_chief(strategy)

  # ---------------------------------------------------------------- Input data
  builder = data_lib.get_builder(config.data.dataset, config.data.data_dir)
  data_lib.check_size(builder, config.data.frames, config.data.height, config.data.width)
  config = resolve_num_videos(config, builder)
  config_lib.validate(config)
  encoder = load_clip(config)      # Before the workdir: bad weights write nothing.
  workdir = prepare_workdir(workdir, config, chief)
  stages = schedule.make_stages(config.model.num_videos, config.train.batch_size,
                                config.train.progressive, config.train.stage_max_epochs)
  # Video-CLIP trains on cached frame embeddings (f32[N, T, D]), never on CLIP.
  frame_embeddings = None if encoder is None else clip_cache.load_embeddings(
      encoder, builder, config.data, config.model.num_videos, log=log)
  del encoder

  # --------------------------------------------------------------------- Model
  state = create_state(config, strategy)
  d = config.data
  with strategy.scope():
    features = tf.Variable(state.model.encoded_grid(d.frames, d.height, d.width),
                           trainable=False, name='encoded_grid')
  train_step = make_train_step(state, config, strategy, features,
                               jit_compile=config.train.xla)
  if config.train.xla and config.train.chunk_pixels and not tf.config.list_logical_devices('GPU'):
    log(f'Note: XLA on CPU with pixel chunks ran the paper INR 8x slower than without '
        f'XLA (benchmarks/README.md); consider --chunk_pixels=0 or no --xla.')
  if not distribute.onednn_enabled() and not tf.config.list_logical_devices('GPU'):
    log('Note: TensorFlow\'s oneDNN CPU kernels are off (TF_ENABLE_ONEDNN_OPTS=0, or '
        'TensorFlow was imported before inrv_tf); float32 matmuls ran 1.45x slower so.')

  # ---------------------------------------------------------- Load checkpoint
  checkpointer = _Checkpointer(state, workdir, strategy, config.train.keep_checkpoints)
  restored = checkpointer.restore()
  if restored:
    log(f'Resumed from {restored} at step {int(state.step.numpy())}.')
  writer = tf.summary.create_file_writer(str(workdir / 'summaries')) if chief else (
      tf.summary.create_noop_writer())

  # ---------------------------------------------------------------- Train loop
  t = config.train
  pixels_per_step = t.batch_size * max(1, round(features.shape[0] * d.pixel_fraction))
  step = int(state.step.numpy())
  while step < t.steps:
    stage = stages[int(state.stage.numpy())]
    stage_start = int(state.stage_start.numpy())
    steps_in_stage = step - stage_start
    dataset = strategy.distribute_datasets_from_function(
        lambda ctx, n=stage.num_videos, s=steps_in_stage: data_lib.make_dataset(
            builder, d, n, t.batch_size, t.seed, start_step=s, input_context=ctx,
            frame_embeddings=frame_embeddings))
    log(f'Stage {stage.index}: {stage.num_videos} videos from step {step}.')
    epoch_losses, tick, tick_step = [], time.perf_counter(), step
    # The time spent waiting for the next batch is measured apart from the
    # step: with prefetching it should stay near zero (logged as input wait).
    batches, waited = iter(dataset), 0.0
    while True:
      wait_start = time.perf_counter()
      try:
        batch = next(batches)
      except StopIteration:
        break
      waited += time.perf_counter() - wait_start
      out = train_step(batch)
      loss, mse = float(out['loss']), float(out['mse'])
      if not np.isfinite(loss):
        raise NonFiniteLossError(
            f'Loss is {loss} at step {step + 1}; stopped. The last good checkpoint, '
            f'{tf.train.latest_checkpoint(checkpointer.directory)}, is kept.')
      step += 1
      steps_in_stage += 1
      epoch_losses.append(loss)
      if step % t.log_every == 0 or step == t.steps:
        seconds = time.perf_counter() - tick
        rate = pixels_per_step * (step - tick_step) / max(seconds, 1e-9)
        input_wait = waited / max(seconds, 1e-9)
        log(f'step {step}/{t.steps} loss {loss:.5f} psnr {psnr_from_mse(mse):.2f} dB '
            f'{rate:,.0f} pixels/s input wait {100 * input_wait:.1f}%')
        with writer.as_default(step=step):
          tf.summary.scalar('train/loss', loss)
          tf.summary.scalar('train/psnr', psnr_from_mse(mse))
          tf.summary.scalar('train/pixels_per_second', rate)
          tf.summary.scalar('train/input_wait_fraction', input_wait)
          tf.summary.scalar('train/stage_videos', stage.num_videos)
        tick, tick_step, waited = time.perf_counter(), step, 0.0
      if step % t.checkpoint_every == 0:
        checkpointer.save(step)
        _write_video_summaries(state.model, builder, config, writer, step,
                               frame_embeddings)
      if steps_in_stage % stage.steps_per_epoch == 0:
        epoch_loss = float(np.mean(epoch_losses))
        epoch_losses = []
        if schedule.stage_done(stage, steps_in_stage, epoch_loss, t.stage_threshold):
          log(f'Stage {stage.index} done at step {step} (epoch loss {epoch_loss:.5f}).')
          state.stage.assign(stage.index + 1)
          state.stage_start.assign(step)
          break
      if step >= t.steps:
        break
  if _checkpoint_step(checkpointer) != step:
    checkpointer.save(step)

  # ------------------------------------------------------------------ Outputs
  if not chief:
    return {}
  summary = evaluate_reconstructions(state.model, builder, config, workdir, log,
                                    frame_embeddings=frame_embeddings)
  summary['step'] = step
  if frame_embeddings is not None:
    path = clip_cache.save_learned_latents(workdir, state.model, frame_embeddings)
    log(f'Wrote the training videos\' m (for inference without CLIP) to {path}.')
  files.write_json(workdir / 'metrics.json', summary)
  log(f'Reconstruction over {summary["num_videos"]} training videos: '
      f'PSNR {summary["psnr"]:.2f} dB, SSIM {summary["ssim"]:.4f} '
      f'(written to {workdir / "metrics.json"}).')
  writer.flush()
  return summary


def _checkpoint_step(checkpointer: _Checkpointer) -> int:
  latest = tf.train.latest_checkpoint(checkpointer.directory)
  return int(latest.rsplit('-', 1)[-1]) if latest else -1


def reconstruct(model, video_ids, config: config_lib.Config,
                frame_embeddings=None) -> tf.Tensor:
  """Renders training videos by id at the training size: f32[B, T, H, W, 3] in [-1, 1].

  frame_embeddings: with Video-CLIP, the cached f32[N, T, D] (rows by video id).
  """
  d = config.data
  clip_input = None if frame_embeddings is None else tf.constant(
      frame_embeddings[np.asarray(video_ids)], tf.float32)
  m = model.latent(tf.constant(video_ids, tf.int32), clip_input)
  return render.render_video(model, m, d.frames, d.height, d.width)


def _write_video_summaries(model, builder, config, writer, step: int,
                           frame_embeddings=None) -> None:
  """A filmstrip (up to 8 frames side by side) of a few reconstructions."""
  n = min(config.train.summary_videos, config.model.num_videos)
  if n <= 0:
    return
  video = data_lib.to_uint8(reconstruct(model, list(range(n)), config, frame_embeddings))
  frames = video[:, :: max(1, video.shape[1] // 8)][:, :8]        # [n, k, H, W, 3]
  strip = tf.concat(tf.unstack(frames, axis=1), axis=2)            # [n, H, k*W, 3]
  with writer.as_default(step=step):
    tf.summary.image('reconstructions', strip, max_outputs=n)


def evaluate_reconstructions(model, builder, config: config_lib.Config, workdir,
                             log: Callable[[str], None] = print,
                             batch_size: int = 4, frame_embeddings=None) -> dict:
  """PSNR/SSIM (on [0, 1]) of every training video; writes a few as .mp4/.gif."""
  d = config.data
  out_dir = pathlib.Path(workdir) / 'reconstructions'
  psnrs, ssims, written = [], [], 0
  for batch in data_lib.eval_dataset(builder, d, config.model.num_videos, batch_size):
    ids = batch['video_id'].numpy()
    recon = reconstruct(model, ids, config, frame_embeddings)
    truth = tf.cast(batch['video'], tf.float32) / 255.0
    pred = (tf.clip_by_value(recon, -1.0, 1.0) + 1.0) / 2.0
    psnrs += list(metrics.psnr(pred, truth, 1.0).numpy())
    ssims += list(metrics.ssim(pred, truth, 1.0).numpy())
    recon_u8 = data_lib.to_uint8(recon).numpy()
    for i, video_id in enumerate(ids):
      if written >= config.train.summary_videos:
        break
      side_by_side = np.concatenate([batch['video'][i].numpy(), recon_u8[i]], axis=2)
      for suffix in ('.mp4', '.gif'):
        files.write_video(out_dir / f'video_{video_id:05d}{suffix}', recon_u8[i])
        files.write_video(out_dir / f'video_{video_id:05d}_vs_truth{suffix}', side_by_side)
      written += 1
  log(f'Wrote {written} reconstructions to {out_dir}.')
  return {'psnr': float(np.mean(psnrs)), 'ssim': float(np.mean(ssims)),
          'num_videos': len(psnrs), 'frames': d.frames, 'height': d.height,
          'width': d.width}
