"""Table 6: the inversion tasks on held-out videos (paper Section 5.3).

    table = inversion_table(config, model, builder, settings, log, identity=None)

Each held-out video is inverted once per task (the model frozen, one code
fitted to the task's visible pixels) and its whole render scored: Context-L1
on the visible pixels for every task, PSNR and SSIM where one answer is right
(full and sparse context, superresolution), and the identity columns when a
face-identity scorer is given. Superresolution inverts the video downsampled
to sr_low and renders it at sr_high, beside bicubic upsampling.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from inrv_tf import config as config_lib
from inrv_tf import progress as progress_lib
from inrv_tf.apps import inversion
from inrv_tf.data import pipeline
from inrv_tf.evaluate import table as table_lib
from inrv_tf.model import metrics

TASK_LABELS = {'inversion': 'Inv.', 'inpainting': 'Inp.', 'frame_prediction': 'Pre.',
               'frame_interpolation': 'Int.', 'sparse_inpainting': 'Spr.'}
# Table 6 reports PSNR/SSIM only where one answer is right (full and sparse context).
QUALITY_TASKS = ('inversion', 'sparse_inpainting', 'superresolution')
IDENTITY_KEYS = ('gt_id', 'tl_id', 'tg_id')
# (pred uint8[B, T, H, W, 3], truth uint8[...]) -> {'gt_id': f32[B], 'tl_id': ..., 'tg_id': ...}
IdentityScorer = Callable[[np.ndarray, np.ndarray], dict]


def heldout_ids(config, builder, s: config_lib.EvalSettings) -> tuple[str, list[int]]:
  """(split, ids) of videos the model never saw: after the training range, or --heldout_split."""
  split = s.heldout_split or config.data.split
  start = 0 if s.heldout_split else config.model.num_videos
  available = pipeline.num_examples(builder, split) - start
  if available <= 0:
    raise pipeline.DataError(f'No held-out videos: the model was trained on all {start} videos '
                         f'of split {split!r}; pass --heldout_split=SPLIT.')
  count = min(s.num_videos or config_lib.EVAL_COUNTS['inversion'], available)
  return split, list(range(start, start + count))


class _TaskScores:
  """Per-video scores of one Table 6 row, accumulated over batches."""

  def __init__(self):
    self.values = {k: [] for k in ('context_l1', 'psnr', 'ssim', *IDENTITY_KEYS)}
    self.seconds, self.count = 0.0, 0

  def add(self, pred, truth, context=None, quality=False, seconds=0.0, identity=None):
    if context is not None:
      self.values['context_l1'] += list(np.asarray(context))
    if quality:
      q = metrics.per_video_quality(pred, truth)
      self.values['psnr'] += list(q['psnr'])
      self.values['ssim'] += list(q['ssim'])
    if identity is not None:
      for key, value in identity(pred, truth).items():
        self.values[key] += list(np.asarray(value))
    self.seconds += seconds
    self.count += len(pred)

  def row(self, task: str, method: str, cost: bool) -> dict:
    row = {'task': task, 'method': method}
    for key, values in self.values.items():
      row[key] = table_lib.number(np.mean(values)) if values else None
    row['cost_minutes'] = self.seconds / self.count / 60 if cost else None
    return row


def inversion_table(config, model, builder, s: config_lib.EvalSettings, log,
                    identity: IdentityScorer | None = None) -> table_lib.Table:
  """Table 6: the inversion tasks on held-out videos (identity columns by `identity`)."""
  d = config.data
  split, ids = heldout_ids(config, builder, s)
  frames, (height, width) = d.frames, table_lib.render_size(s, config)
  s = dataclasses.replace(s, sr_high=superres_side(s, builder, log))
  pipeline.check_size(builder, frames, s.sr_high, s.sr_high)   # Fail before any inversion.
  tasks = [t for t in inversion.TASKS if t != 'superresolution']
  masks = {t: inversion.make_mask(t, frames, height, width, s.seed) for t in tasks}
  scores = {t: _TaskScores() for t in (*tasks, 'superresolution', 'bicubic')}
  kwargs = {'steps': s.inversion_steps, 'seed': s.seed, 'chunk_pixels': s.chunk_pixels}
  videos = table_lib.load_videos(builder, split, ids, frames, height, width, s.batch_size)
  highs = table_lib.load_videos(builder, split, ids, frames, s.sr_high, s.sr_high, s.batch_size)
  progress = progress_lib.Progress(len(ids), unit='video', log=None)
  for truth, high in zip(videos, highs):
    for task in tasks:
      result = inversion.invert(model, pipeline.to_float(truth).numpy(), masks[task], **kwargs)
      pred = table_lib.render_uint8(model, result.codes, frames, height, width, s)
      scores[task].add(pred, truth, _context(pred, truth, masks[task]),
                       task in QUALITY_TASKS, result.seconds, identity)
    _superres_batch(model, high, scores, s, kwargs, identity)
    progress.advance(len(truth))
    log(f'Inversion tasks: {progress.done}/{len(ids)} held-out videos, {progress.suffix()}.')
  factor = f'Sup. {s.sr_high / s.sr_low:g}x'
  rows = [scores[t].row(TASK_LABELS[t], 'INR-V', True) for t in tasks]
  rows += [scores['bicubic'].row(factor, 'Bicubic', False),
           scores['superresolution'].row(factor, 'INR-V', True)]
  columns = [('task', 'Task'), ('method', 'Method'), ('gt_id', 'GT-ID'), ('tl_id', 'TL-ID'),
             ('tg_id', 'TG-ID'), ('context_l1', 'Context-L1'), ('psnr', 'PSNR'),
             ('ssim', 'SSIM'), ('cost_minutes', 'Cost (min)')]
  settings = {'split': split, 'ids': ids, 'num_videos': len(ids), 'frames': frames,
              'height': height, 'width': width, 'steps': s.inversion_steps,
              'sr_low': s.sr_low, 'sr_high': s.sr_high,
              'identity': 'face model' if identity else None}
  return table_lib.Table('inversion', f'Table 6: inversion of {len(ids)} held-out videos '
               f'({d.dataset}, {frames} x {height} x {width})', columns, rows, settings)


def superres_side(s: config_lib.EvalSettings, builder, log) -> int:
  """Superresolution's output side: --sr_high (128, the paper's), at most the dataset's
  stored side (the truth it is scored against); it must stay above --sr_low."""
  stored = [side for side in pipeline.video_shape(builder)[1:3] if side]
  side = min([s.sr_high] + stored)
  if side <= s.sr_low:
    raise pipeline.DataError(
        f'Superresolution from --sr_low={s.sr_low} needs truth larger than that; the '
        f'dataset stores {stored[0]} x {stored[-1]} videos: give a smaller --sr_low.')
  if side < s.sr_high:
    log(f'Superresolution {s.sr_low} -> {side}: the dataset stores {stored[0]} x '
        f'{stored[-1]} videos (--sr_high={s.sr_high} needs truth of that size).')
  return side


def _context(pred, truth, mask) -> np.ndarray:
  return metrics.context_l1(pred.astype(np.float32), truth.astype(np.float32), mask,
                            255.0).numpy()


def _superres_batch(model, high, scores, s: config_lib.EvalSettings, kwargs, identity) -> None:
  """Inverts area-downsampled videos at sr_low, renders at sr_high; bicubic beside."""
  frames = high.shape[1]
  low = inversion.resize_frames(high.astype(np.float32), s.sr_low, s.sr_low, 'area')
  low = np.clip(np.round(low), 0, 255).astype(np.uint8)
  result, big = inversion.superresolve(model, pipeline.to_float(low).numpy(), s.sr_high,
                                       s.sr_high, **kwargs)
  low_render = table_lib.render_uint8(model, result.codes, frames, s.sr_low, s.sr_low, s)
  full = inversion.full_mask(frames, s.sr_low, s.sr_low)
  scores['superresolution'].add(pipeline.to_uint8(big).numpy(), high,
                                _context(low_render, low, full), True, result.seconds,
                                identity)
  scores['bicubic'].add(table_lib.bicubic_uint8(low, s.sr_high, s.sr_high), high, quality=True,
                        identity=identity)
