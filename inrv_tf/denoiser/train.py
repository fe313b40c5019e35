"""Training the denoising VQ-VAE-2 (paper Section 4.2) on an INR-V workdir.

    python -m inrv_tf.denoise train --workdir=/tmp/balls           # the command
    train_denoiser('/tmp/balls', denoiser.small())                 # the library

Input pipeline: INR-V's renders of its training videos and the real frames,
frame by frame, written once as uint8 memory maps (<workdir>/denoiser/pairs/).
Then Adam on reconstruction (against the real frame) + commitment loss, with
its own checkpoints in <workdir>/denoiser/checkpoints (a run resumes; a larger
steps continues it), progress lines, and metrics.json at the end: L1 and PSNR
to the real frames of the INR-V renders and of their denoised versions.
"""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Callable, Iterator

import keras
import numpy as np
import tensorflow as tf

from inrv_tf import workdir as workdir_lib
from inrv_tf.data import pipeline as data_lib
from inrv_tf.denoiser import denoising
from inrv_tf import files
from inrv_tf.model import metrics
from inrv_tf.model import render

EVAL_FRAMES = 256   # Pairs (spread over all) that metrics.json is computed on.


def num_pair_videos(config, c: denoising.DenoiserConfig) -> int:
  n = config.model.num_videos
  return n if c.num_videos is None else min(n, c.num_videos)


def make_pairs(model, builder, config, c: denoising.DenoiserConfig,
               batch_size: int = 4) -> Iterator[tuple[np.ndarray, np.ndarray]]:
  """(INR-V's render, real frame) pairs of the first c.num_videos training videos.

  Args:
    model: the trained `InrvModel`; config: its `Config`; builder: its dataset.
  Yields, video batch by video batch, in id order:
    (inputs uint8[b * T, S, S, 3], targets uint8[b * T, S, S, 3]), S = c.size,
    T the training length; inputs render the learned codes at S x S, targets
    are the videos resized (area) to S x S.
  """
  s, n = c.size, num_pair_videos(config, c)
  data = dataclasses.replace(config.data, height=s, width=s)
  codes = model.training_latents()                   # m of every training video
  for batch in data_lib.eval_dataset(builder, data, n, batch_size):
    ids = batch['video_id'].numpy()
    recon = render.render_video(model, codes[ids], data.frames, s, s)
    to_frames = lambda v: np.asarray(v).reshape((-1, s, s, 3))  # [b, T, S, S, 3] -> [b*T, S, S, 3]
    yield to_frames(data_lib.to_uint8(recon)), to_frames(batch['video'])


def write_pairs(workdir, model, builder, config, c: denoising.DenoiserConfig,
                inrv_checkpoint: str, log: Callable[[str], None] = print):
  """The pairs as read-only uint8 memory maps (inputs, targets) f32[F, S, S, 3].

  Reused when pairs/pairs.json (written last) names the same INR-V checkpoint,
  size and videos; rendered again otherwise.
  """
  folder = denoising.directory(workdir) / 'pairs'
  n = num_pair_videos(config, c)
  meta = {'checkpoint': inrv_checkpoint, 'size': c.size, 'num_videos': n,
          'frames': config.data.frames, 'count': n * config.data.frames}
  marker = folder / 'pairs.json'
  if marker.is_file() and json.loads(marker.read_text()) == meta:
    log(f'Reusing {meta["count"]} denoiser pairs in {folder}.')
  else:
    folder.mkdir(parents=True, exist_ok=True)
    marker.unlink(missing_ok=True)
    shape = (meta['count'], c.size, c.size, 3)
    log(f'Rendering {n} INR-V reconstructions at {c.size} x {c.size} as denoiser '
        f'inputs ({2 * np.prod(shape) / 2**20:,.1f} MiB of pairs in {folder}).')
    arrays = [np.lib.format.open_memmap(folder / f'{k}.npy', 'w+', np.uint8, shape)
              for k in ('inputs', 'targets')]
    done = 0
    for inputs, targets in make_pairs(model, builder, config, c):
      arrays[0][done:done + len(inputs)] = inputs
      arrays[1][done:done + len(inputs)] = targets
      done += len(inputs)
    for a in arrays:
      a.flush()
    files.write_json(marker, meta)
  return tuple(np.load(folder / f'{k}.npy', mmap_mode='r') for k in ('inputs', 'targets'))


def make_train_step(model, optimizer, loss: str):
  """A tf.function (inputs, targets uint8[N, S, S, 3]) -> {loss, reconstruction,
  commitment, l1}; updates the weights (Adam) and the codebooks (EMA)."""
  error = tf.abs if loss == 'l1' else tf.square

  @tf.function
  def train_step(inputs, targets):
    x, y = data_lib.to_float(inputs), data_lib.to_float(targets)
    with tf.GradientTape() as tape:
      recon, commitment = model(x, training=True)
      reconstruction = tf.reduce_mean(error(recon - y))
      total = reconstruction + commitment
    grads = tape.gradient(total, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    return {'loss': total, 'reconstruction': reconstruction, 'commitment': commitment,
            'l1': tf.reduce_mean(tf.abs(recon - y))}

  return train_step


def frame_indices(count: int, batch_size: int, seed: int, step: int) -> np.ndarray:
  """The frames of a step, a pure function of (seed, step): a resumed run sees
  the batches an unbroken run would. Sorted, for memory-map reads."""
  return np.sort(np.random.default_rng([seed, step]).integers(0, count, batch_size))


def prepare_directory(workdir, c: denoising.DenoiserConfig) -> None:
  """Writes denoiser_config.json; refuses one whose model or size differs."""
  path = denoising.directory(workdir) / denoising.CONFIG_FILE
  if path.is_file():
    old = denoising.load_config(workdir)
    changed = [f for f in ('size',) + denoising.MODEL_FIELDS
               if getattr(old, f) != getattr(c, f)]
    if changed:
      raise denoising.DenoiserError(
          f'{path} holds a denoiser with other {", ".join(changed)} '
          f'({", ".join(f"{f}={getattr(old, f)}" for f in changed)}): delete '
          f'{path.parent} to train a new one, or pass the same values.')
  path.parent.mkdir(parents=True, exist_ok=True)
  with files.atomic_path(path) as tmp:
    with open(tmp, 'w') as f:
      f.write(c.to_json() + '\n')


def pair_metrics(denoiser, inputs, targets) -> dict:
  """L1 (on [-1, 1]) and PSNR (dB, on [0, 255]) to the targets, of the inputs
  and of the denoised inputs, over up to EVAL_FRAMES pairs spread evenly."""
  idx = np.unique(np.linspace(0, len(inputs) - 1, min(EVAL_FRAMES, len(inputs))).astype(int))
  x, y = inputs[idx][None], targets[idx][None]                     # [1, F, S, S, 3] uint8
  out = data_lib.to_uint8(denoising.denoise_videos(
      denoiser, data_lib.to_float(x).numpy())).numpy()
  l1 = lambda a: float(np.mean(np.abs(a.astype(np.float32) - y)) / 127.5)
  psnr = lambda a: float(metrics.psnr(a.astype(np.float32), y.astype(np.float32), 255.0)[0])
  return {'frames': len(idx), 'l1_input': l1(x), 'l1_denoised': l1(out),
          'psnr_input': psnr(x), 'psnr_denoised': psnr(out)}


def train_loop(train_step, inputs, targets, c: denoising.DenoiserConfig, step_var,
               manager: tf.train.CheckpointManager, log) -> int:
  """Steps from step_var to c.steps with progress lines and checkpoints; the last step."""
  step, tick = int(step_var.numpy()), time.perf_counter()
  tick_step = step
  while step < c.steps:
    idx = frame_indices(len(inputs), c.batch_size, c.seed, step)
    out = {k: float(v) for k, v in train_step(inputs[idx], targets[idx]).items()}
    if not np.isfinite(out['loss']):
      raise denoising.DenoiserError(
          f'Denoiser loss is {out["loss"]} at step {step + 1}; stopped. The last good '
          f'checkpoint, {manager.latest_checkpoint}, is kept.')
    step += 1
    step_var.assign(step)
    if step % c.log_every == 0 or step == c.steps:
      rate = c.batch_size * (step - tick_step) / max(time.perf_counter() - tick, 1e-9)
      log(f'denoiser step {step}/{c.steps} loss {out["loss"]:.5f} L1 {out["l1"]:.4f} '
          f'commitment {out["commitment"]:.5f} {rate:,.0f} frames/s')
      tick, tick_step = time.perf_counter(), step
    if step % c.checkpoint_every == 0 or step == c.steps:
      manager.save(checkpoint_number=step)
  return step


def train_denoiser(workdir, c: denoising.DenoiserConfig,
                   log: Callable[[str], None] = print) -> dict:
  """Makes the pairs, trains (or resumes) the denoiser, writes metrics.json.

  Raises:
    FileNotFoundError, checkpoint.CheckpointError: no trained INR-V workdir.
    DenoiserError: a bad config, one that differs from the saved denoiser's,
      or a non-finite loss (the last good checkpoint stays).
  """
  # ------------------------------------------------------------ Input pipeline
  config, inrv = workdir_lib.load_model(workdir)
  builder = data_lib.get_builder(config.data.dataset, config.data.data_dir)
  c = denoising.resolve_size(c, builder)
  denoising.validate(c)
  data_lib.check_size(builder, config.data.frames, c.size, c.size)
  prepare_directory(workdir, c)
  inputs, targets = write_pairs(workdir, inrv, builder, config, c,
                                workdir_lib.Workdir(workdir).latest_checkpoint(), log)
  del inrv

  # --------------------------------------------------- Model, load checkpoint
  model = denoising.build(c)
  optimizer = keras.optimizers.Adam(c.lr)
  optimizer.build(model.trainable_variables)
  step_var = tf.Variable(0, dtype=tf.int64, trainable=False, name='step')
  ckpt = tf.train.Checkpoint(model=model, optimizer=optimizer, step=step_var)
  manager = tf.train.CheckpointManager(
      ckpt, str(denoising.directory(workdir) / 'checkpoints'), c.keep_checkpoints)
  if manager.latest_checkpoint:
    ckpt.restore(manager.latest_checkpoint).assert_existing_objects_matched()
    log(f'Resumed the denoiser from {manager.latest_checkpoint}.')

  # ---------------------------------------------------------------- Train loop
  step = train_loop(make_train_step(model, optimizer, c.loss), inputs, targets, c,
                    step_var, manager, log)

  # ------------------------------------------------------------------ Outputs
  result = pair_metrics(denoising.Denoiser(model, c), inputs, targets)
  result.update(step=step, size=c.size, pairs=len(inputs))
  files.write_json(denoising.directory(workdir) / 'metrics.json', result)
  log(f'Denoiser on {result["frames"]} training frames: L1 {result["l1_input"]:.4f} -> '
      f'{result["l1_denoised"]:.4f}, PSNR {result["psnr_input"]:.2f} -> '
      f'{result["psnr_denoised"]:.2f} dB (INR-V -> denoised).')
  return result
