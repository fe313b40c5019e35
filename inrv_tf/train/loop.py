"""Training: the Python loop that owns state, logs, checkpoints and the final evaluation.

    summary = run(config, workdir)       # trains, resumes, checkpoints, evaluates

`run` reads top to bottom: input data, model, checkpoint, the loop over
progressive stages (`train.schedule`), then the outputs. The step itself is
`train.step.make_train_step`; the reconstruction quality written at the end
comes from the evaluator of Table 1 (`evaluate.reconstruction_table`), the
pictures (a montage of truth against reconstruction, the loss and PSNR
curves) from `inrv_tf.figures`. Progress lines end with the elapsed time and
an ETA (`inrv_tf.progress`); their numbers are kept in the workdir
(`train.curves`), so the curves of a resumed run cover all of it.
"""

from __future__ import annotations

import contextlib
import pathlib
import shutil
import time
from typing import Callable

import numpy as np
import tensorflow as tf

from inrv_tf import config as config_lib
from inrv_tf import figures
from inrv_tf import files
from inrv_tf import progress as progress_lib
from inrv_tf import workdir as workdir_lib
from inrv_tf.data import batches as batches_lib
from inrv_tf.data import clip_cache
from inrv_tf.data import order
from inrv_tf.data import pipeline
from inrv_tf.data import video_store
from inrv_tf.evaluate import reconstruction_table
from inrv_tf.model import lpips as lpips_lib
from inrv_tf.train import curves as curves_lib
from inrv_tf.train import distribute
from inrv_tf.train import schedule
from inrv_tf.train import step as step_lib

WorkdirError = workdir_lib.WorkdirError


class NonFiniteLossError(FloatingPointError):
  """The loss became NaN or infinite."""


def input_options() -> tf.data.Options:
  """The training stream's tf.data options: tf.data's autotuning model thread off.

  In TensorFlow 2.21 that thread does not wake when its iterator is deleted:
  the deletion waits out the thread's optimization period, which doubles up
  to 60 s, so a finished run sat silent for up to a minute before it exited
  (py-spy: the main thread in RootDataset::Iterator::~Iterator, waiting on
  the thread in Model::OptimizeLoop). Without it, AUTOTUNE still means
  something: prefetch sizes its buffer with its own autotuner and parallel
  maps run at tf.data's default parallelism (the cores).
  """
  options = tf.data.Options()
  options.autotune.enabled = False
  return options


def psnr_from_mse(mse: float) -> float:
  """PSNR in dB of an MSE measured on [-1, 1] videos (peak-to-peak 2): a progress figure."""
  return float(10.0 * np.log10(4.0 / max(mse, 1e-12)))


class _Checkpointer:
  """CheckpointManager for the chief; other workers write to a scratch folder."""

  def __init__(self, state: step_lib.TrainState, workdir: workdir_lib.Workdir,
               strategy: tf.distribute.Strategy, keep: int, frame_embeddings=None):
    self.chief = distribute.is_chief(strategy)
    self.directory = workdir.checkpoints
    self.write_dir = self.directory if self.chief else workdir.scratch(
        distribute.worker_id(strategy))
    self.state = state
    self.checkpoint = state.checkpoint()
    self.manager = tf.train.CheckpointManager(self.checkpoint, self.write_dir, keep)
    self.frame_embeddings = frame_embeddings

  def latest(self) -> str | None:
    return tf.train.latest_checkpoint(self.directory)

  def restore(self) -> str | None:
    latest = self.latest()
    if latest:
      self.checkpoint.restore(latest).assert_existing_objects_matched()
    return latest

  def save(self, step: int) -> str:
    # A Video-CLIP model's learned m table is model state: current in every checkpoint.
    if self.frame_embeddings is not None:
      self.state.model.store_learned_m(self.frame_embeddings)
    path = self.manager.save(checkpoint_number=step)
    if not self.chief:
      shutil.rmtree(self.write_dir, ignore_errors=True)
    return path

  def saved_step(self) -> int:
    latest = self.latest()
    return int(latest.rsplit('-', 1)[-1]) if latest else -1

  def drop_from(self, step: int, aside) -> str | None:
    """Moves every checkpoint of `step` or later into the folder `aside`; returns
    the newest one left (None if none), which becomes the one a resume reads."""
    state = tf.train.get_checkpoint_state(self.directory)
    paths = list(state.all_model_checkpoint_paths) if state else []
    keep = [p for p in paths if int(p.rsplit('-', 1)[-1]) < step]
    for path in paths:
      if path not in keep:
        aside.mkdir(parents=True, exist_ok=True)
        for file in tf.io.gfile.glob(path + '.*'):
          tf.io.gfile.rename(file, str(aside / pathlib.Path(file).name), overwrite=True)
    if keep:
      tf.compat.v1.train.update_checkpoint_state(str(self.directory), keep[-1], keep)
    elif state:
      tf.io.gfile.remove(str(self.directory / 'checkpoint'))
    self.manager = tf.train.CheckpointManager(self.checkpoint, self.write_dir,
                                              self.manager._max_to_keep)  # pylint: disable=protected-access
    return keep[-1] if keep else None


def _diverged(checkpointer: _Checkpointer, workdir: workdir_lib.Workdir, step: int,
              loss: float, grad_sq: float, lr: float,
              precision: str = 'float32') -> NonFiniteLossError:
  """The error for a non-finite loss or gradient at `step` (1-based), after moving aside
  the checkpoints that lead into it (the state saved at step - 1 and later)."""
  what = f'Loss is {loss}' if not np.isfinite(loss) else f'The gradient is {grad_sq ** 0.5}'
  aside = workdir.diverged
  good = checkpointer.drop_from(step - 1, aside) if checkpointer.chief else None
  moved = f' Checkpoints from step {step - 1} on went to {aside}.' if aside.exists() else ''
  if good:
    keep = f'The last checkpoint that trains on finitely is {good}: run again'
  else:
    keep = 'No checkpoint before it is left: run again, from scratch,'
  if precision == 'float16':   # float16 overflows past 65,504; bfloat16 has float32's range.
    keep += ' with --precision=bfloat16 or float32, or'
  return NonFiniteLossError(
      f'{what} at step {step}; stopped before saving that state.{moved} {keep} with a '
      f'lower --lr (this run: {lr:g}; the --lr you give is the one a resume trains at).')


def run(config: config_lib.Config, workdir, strategy: tf.distribute.Strategy | None = None,
        log: Callable[[str], None] = print) -> dict:
  """Trains (or resumes) a run in `workdir`; returns the final metrics.

  Logs a line every `log_every` steps (`step N/M loss L psnr P dB R pixels/s
  input wait W% elapsed H:MM:SS ETA H:MM:SS`) and ends with `Trained N steps
  in H:MM:SS; reconstruction PSNR x dB, SSIM y` (the time of this call).

  Raises:
    WorkdirError, pipeline.DataError: bad workdir or data (nothing is written).
    NonFiniteLossError: a non-finite loss or gradient; checkpoints that lead into it
      are moved aside (the message names the last good one).
  """
  started = time.monotonic()
  strategy = strategy or tf.distribute.get_strategy()
  chief = distribute.is_chief(strategy)
  workdir = workdir_lib.Workdir(workdir)
  if config.train.steps == 0 and not tf.train.latest_checkpoint(str(workdir.checkpoints)):
    raise WorkdirError(f'--steps=0 and {workdir} holds no checkpoint: nothing would be '
                       'trained (an untrained model\'s metrics); give --steps.')

  # ---------------------------------------------------------------- Input data
  builder = pipeline.get_builder(config.data.dataset, config.data.data_dir)
  config = pipeline.resolve_num_videos(config, builder)
  precision, why = distribute.resolve_precision(config.train.precision)
  config = config.replace(train={'precision': precision})   # config.json: what ran.
  log(f'Precision: {precision} matmuls ({why}).')
  t = config.train
  if t.lr_schedule != 'constant' or t.warmup_steps:
    decay = f', then cosine to 0 at step {t.steps}' if t.lr_schedule == 'cosine' else ''
    log(f'Learning rate: {t.lr:g}, {t.warmup_steps} warmup steps{decay}.')
  encoder = clip_cache.load_encoder(config)   # Before the workdir: bad weights write nothing.
  # One trainer per workdir: the chief holds <workdir>/train.lock until the run
  # returns, and first removes what a killed run left behind.
  with contextlib.ExitStack() as owned:
    if chief:
      owned.enter_context(workdir.lock(log))
      workdir.clean_leftovers(log)
    workdir.prepare(config, chief, log)
    return _train(config, workdir, builder, encoder, strategy, chief, log, started, owned)


def _train(config: config_lib.Config, workdir: workdir_lib.Workdir, builder, encoder,
           strategy: tf.distribute.Strategy, chief: bool, log: Callable[[str], None],
           started: float, owned: contextlib.ExitStack) -> dict:
  """`run` once the workdir is this process's: stages, model, checkpoint, loop, outputs.

  What must end before `run` returns (the summary writer) goes on `owned`.
  """
  stages = schedule.make_stages(config.model.num_videos, config.train.batch_size,
                                config.train.progressive, config.train.stage_max_epochs)
  # Video-CLIP trains on cached frame embeddings (f32[N, T, D]), never on CLIP.
  frame_embeddings = None if encoder is None else clip_cache.load_embeddings(
      encoder, builder, config.data, config.model.num_videos, log=log)
  del encoder
  # Every training video by id: in memory when they fit, else read at random.
  store = video_store.VideoStore(builder, config.data, config.model.num_videos, log=log,
                                 convert=chief)

  # --------------------------------------------------------------------- Model
  state = step_lib.create_state(config, strategy)
  d = config.data
  with strategy.scope():
    features = tf.Variable(state.model.encoded_grid(d.frames, d.height, d.width),
                           trainable=False, name='encoded_grid')
    lpips = lpips_lib.load_lpips(config.train.lpips_weights) if (
        config.train.lpips_weight) else None
  train_step = step_lib.make_train_step(state, config, strategy, features,
                                        jit_compile=config.train.xla, lpips=lpips)
  on_cpu = not tf.config.list_logical_devices('GPU')
  if config.train.xla and config.train.chunk_pixels and on_cpu:
    log('Note: XLA on a CPU with pixel chunks is much slower than without XLA '
        '(benchmarks/README.md); consider --chunk_pixels=0 or no --xla.')
  if not distribute.onednn_enabled() and on_cpu:
    log('Note: TensorFlow\'s oneDNN CPU kernels are off (TF_ENABLE_ONEDNN_OPTS=0, or '
        'TensorFlow was imported before inrv_tf); float32 matmuls are slower so.')

  # ---------------------------------------------------------- Load checkpoint
  checkpointer = _Checkpointer(state, workdir, strategy, config.train.keep_checkpoints,
                               frame_embeddings)
  restored = checkpointer.restore()
  if restored:
    # The run's settings, not the checkpoint's, train from here (e.g. a lower --lr;
    # a schedule, built from the run's config, is a function of the restored step).
    state.optimizer.learning_rate = config.train.lr
    log(f'Resumed from {restored} at step {int(state.step.numpy())}.')
  writer = tf.summary.create_file_writer(str(workdir.summaries)) if chief else (
      tf.summary.create_noop_writer())
  owned.callback(writer.close)     # Flushed and closed when `run` returns, not at exit.

  # ---------------------------------------------------------------- Train loop
  t = config.train
  pixels_per_step = t.batch_size * step_lib.sampled_pixels(features.shape[0], d.pixel_fraction)
  step = first_step = int(state.step.numpy())
  progress = progress_lib.Progress(t.steps, unit='step', initial=step, log=None)
  curves = curves_lib.Curves.load(workdir.curves_file, up_to_step=step)
  while step < t.steps:
    stage = stages[int(state.stage.numpy())]
    stage_start = int(state.stage_start.numpy())
    steps_in_stage = step - stage_start
    # The stage's videos: a seeded random subset, nested in the next stage's.
    stage_ids = order.stage_videos(config.model.num_videos, stage.num_videos, d.subset_seed)
    dataset = strategy.distribute_datasets_from_function(
        lambda ctx, s=steps_in_stage: batches_lib.make_dataset(
            builder, d, config.model.num_videos, t.batch_size, t.seed, start_step=s,
            input_context=ctx, frame_embeddings=frame_embeddings, stage_ids=stage_ids,
            stage=stage.index, store=store).with_options(input_options()))
    log(f'Stage {stage.index}: {stage.num_videos} videos from step {step}.')
    epoch_losses, tick, tick_step = [], time.perf_counter(), step
    # The time spent waiting for the next batch is measured apart from the
    # step: with prefetching it should stay near zero (logged as input wait).
    batches, waited = iter(dataset), 0.0
    try:
      while True:
        wait_start = time.perf_counter()
        try:
          batch = next(batches)
        except StopIteration:
          break
        waited += time.perf_counter() - wait_start
        out = train_step(batch)
        loss, mse, grad_sq = (float(out[k]) for k in ('loss', 'mse', 'grad_sq'))
        if not (np.isfinite(loss) and np.isfinite(grad_sq)):
          raise _diverged(checkpointer, workdir, step + 1, loss, grad_sq, t.lr,
                          config.train.precision)
        step += 1
        steps_in_stage += 1
        epoch_losses.append(loss)
        progress.update(step)
        if step % t.log_every == 0 or step == t.steps:
          seconds = time.perf_counter() - tick
          row = {'step': step, 'loss': loss, 'psnr': psnr_from_mse(mse),
                 'stage_videos': stage.num_videos, 'input_wait': waited / max(seconds, 1e-9),
                 'pixels_per_second': pixels_per_step * (step - tick_step) / max(seconds, 1e-9)}
          log(f'step {step}/{t.steps} loss {loss:.5f} psnr {row["psnr"]:.2f} dB '
              f'{row["pixels_per_second"]:,.0f} pixels/s input wait '
              f'{100 * row["input_wait"]:.1f}% {progress.suffix()}')
          _write_scalars(writer, step, row)
          curves.add(**row)
          if chief:
            curves.save()
          tick, tick_step, waited = time.perf_counter(), step, 0.0
        if step % t.checkpoint_every == 0:
          checkpointer.save(step)
          if chief:
            _write_filmstrips(state.model, config, writer, step)
        if steps_in_stage % stage.steps_per_epoch == 0:
          epoch_loss = float(np.mean(epoch_losses))
          epoch_losses = []
          if schedule.stage_done(stage, steps_in_stage, epoch_loss, t.stage_threshold):
            log(f'Stage {stage.index} done at step {step} (epoch loss {epoch_loss:.5f}), '
                f'{progress.suffix()}.')
            state.stage.assign(stage.index + 1)
            state.stage_start.assign(step)
            break
        if step >= t.steps:
          break
    finally:
      del batches, dataset   # The stream and its threads end here, not when run returns.
  if checkpointer.saved_step() != step:
    checkpointer.save(step)

  # ------------------------------------------------------------------ Outputs
  if not chief:
    return {}
  summary = dict(reconstruction_table.reconstruction_quality(
      state.model, builder, config, workdir.reconstructions, t.summary_videos))
  summary['step'] = step
  files.write_json(workdir.metrics_file, summary)
  montage = reconstruction_table.write_montage(state.model, builder, config,
                                              workdir.montage_file)
  figures.plot_training_curves(curves.columns, workdir.curves_plot,
                               f'{config.data.dataset}, {workdir.path.name}')
  with writer.as_default(step=step):
    for name in ('psnr', 'ssim', 'error'):
      tf.summary.scalar(f'final/{name}', summary[name])
    tf.summary.image('final/montage', montage[None])
  writer.flush()
  montage_videos = min(figures.MONTAGE_VIDEOS, config.model.num_videos)
  log(f'Wrote {min(t.summary_videos, config.model.num_videos)} reconstructions and a '
      f'montage of {montage_videos} to {workdir.reconstructions}, the loss and PSNR curves '
      f'to {workdir.curves_plot}, the metrics over {summary["num_videos"]} training videos '
      f'to {workdir.metrics_file}.')
  resumed = f' (resumed at step {first_step})' if first_step else ''
  log(f'Trained {progress_lib.counted(step - first_step, "step")}{resumed} in '
      f'{progress_lib.format_duration(time.monotonic() - started)}; reconstruction PSNR '
      f'{summary["psnr"]:.2f} dB, SSIM {summary["ssim"]:.4f}')
  return summary


def _write_scalars(writer, step: int, row: dict) -> None:
  """A progress line's numbers as TensorBoard scalars (train/...)."""
  with writer.as_default(step=step):
    tf.summary.scalar('train/loss', row['loss'])
    tf.summary.scalar('train/psnr', row['psnr'])
    tf.summary.scalar('train/pixels_per_second', row['pixels_per_second'])
    tf.summary.scalar('train/input_wait_fraction', row['input_wait'])
    tf.summary.scalar('train/stage_videos', row['stage_videos'])


def _write_filmstrips(model, config: config_lib.Config, writer, step: int) -> None:
  """A filmstrip of a few reconstructions in TensorBoard."""
  count = min(config.train.summary_videos, config.model.num_videos)
  if count > 0:
    with writer.as_default(step=step):
      tf.summary.image('reconstructions',
                       reconstruction_table.filmstrips(model, config, count),
                       max_outputs=count)
