"""The paper's Tables 1, 2, 4, 5 and 6 as commands over a trained workdir.

    python -m inrv_tf.evaluate --workdir=W --table=reconstruction          # Table 1
    python -m inrv_tf.evaluate --workdir=W --table=fvd --i3d=DIR           # Table 2
    python -m inrv_tf.evaluate --workdir=W --table=multires --i3d=DIR      # Table 4
    python -m inrv_tf.evaluate --workdir=W --table=superres                # Table 5
    python -m inrv_tf.evaluate --workdir=W --table=inversion               # Table 6

Each prints the table as aligned text and writes it as JSON (--out, default
<workdir>/eval_<table>.json): {table, paper_table, title, settings (the video
ids, sizes, workdir, checkpoint and every option), columns [{key, header}],
rows [{column key: value or null, ...}]}.

Definitions (paper Sections 4 and 5): videos are compared as uint8 frames (a
render is clipped and rounded, as a saved video would be) on [0, 255]; PSNR
and SSIM are per-video values averaged over the set; E is equation 6; FVD is
over the first --fvd_frames frames of videos rendered at the training length
against the same frames of real training videos (`inrv_tf.fvd`).
"""

from __future__ import annotations

import dataclasses
import functools
import pathlib
import sys
from typing import Callable

from absl import app
from absl import flags
from absl import logging
import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from inrv_tf import workdir as workdir_lib
from inrv_tf.data import pipeline
from inrv_tf.denoiser import denoising
from inrv_tf.evaluate import fvd
from inrv_tf.apps import inversion
from inrv_tf import files
from inrv_tf.model import metrics
from inrv_tf.model import render
from inrv_tf.apps import sampling
from inrv_tf.evaluate import single_inr

TABLES = ('reconstruction', 'fvd', 'multires', 'superres', 'inversion')
PAPER_TABLE = {'reconstruction': 1, 'fvd': 2, 'multires': 4, 'superres': 5, 'inversion': 6}
PAPER_COUNTS = {'reconstruction': 50, 'superres': 2048, 'inversion': 256}
TASK_LABELS = {'inversion': 'Inv.', 'inpainting': 'Inp.', 'frame_prediction': 'Pre.',
               'frame_interpolation': 'Int.', 'sparse_inpainting': 'Spr.'}
# Table 6 reports PSNR/SSIM only where one answer is right (full and sparse context).
QUALITY_TASKS = ('inversion', 'sparse_inpainting', 'superresolution')
IDENTITY_KEYS = ('gt_id', 'tl_id', 'tg_id')
TEXT_KEYS = ('method', 'task')
# (pred uint8[B, T, H, W, 3], truth uint8[...]) -> {'gt_id': f32[B], 'tl_id': ..., 'tg_id': ...}
IdentityScorer = Callable[[np.ndarray, np.ndarray], dict]
# Settings has a field named single_inr: read the module's defaults out here.
_SINGLE_INR_STEPS, _SINGLE_INR_LR = single_inr.DEFAULT_STEPS, single_inr.DEFAULT_LR


@dataclasses.dataclass(frozen=True)
class Settings:
  """What a table is computed with (the command's flags; see `define_flags`)."""
  num_videos: int | None = None
  size: int | None = None
  batch_size: int = 8
  seed: int = 0
  chunk_pixels: int = render.DEFAULT_CHUNK_PIXELS
  data_dir: str | None = None
  full: bool = True
  single_inr: bool = True
  single_inr_steps: int = _SINGLE_INR_STEPS
  single_inr_lr: float = _SINGLE_INR_LR
  i3d: str | None = None
  num_samples: int = 2048
  num_real: int = 2048
  fvd_frames: int = 16
  fvd_batch_size: int = 16
  fvd_cache: str | None = None
  sizes: tuple = (128, 256, 360)
  scales: tuple = (2.0, 3.0, 3.6)
  inversion_steps: int = inversion.DEFAULT_STEPS
  heldout_split: str | None = None
  sr_low: int = 32
  sr_high: int = 128
  denoise: bool = False


@dataclasses.dataclass
class Table:
  """A table: columns (key, header) and rows of {key: value}, plus its settings."""
  name: str
  title: str
  columns: list
  rows: list
  settings: dict

  def to_dict(self) -> dict:
    return {'table': self.name, 'paper_table': PAPER_TABLE[self.name],
            'title': self.title, 'settings': self.settings, 'rows': self.rows,
            'columns': [{'key': k, 'header': h} for k, h in self.columns]}

  def format(self) -> str:
    """Aligned text: the title, a header line and one line per row."""
    cells = [[h for _, h in self.columns]]
    cells += [[_cell(k, row.get(k)) for k, _ in self.columns] for row in self.rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(self.columns))]
    left = [k in TEXT_KEYS for k, _ in self.columns]
    lines = ['  '.join(c.ljust(w) if l else c.rjust(w)
                       for c, w, l in zip(r, widths, left)).rstrip() for r in cells]
    return '\n'.join([self.title, *lines[:1], '-' * len(lines[0]), *lines[1:]])


def _cell(key: str, value) -> str:
  if value is None or (isinstance(value, float) and np.isnan(value)):
    return '-'
  if isinstance(value, str):
    return value
  digits = 3 if key.startswith(('ssim', 'gt_id', 'tl_id', 'tg_id')) else 2
  return f'{value:.{digits}f}'


def _float(value):
  return None if value is None or np.isnan(value) else float(value)


# Data ------------------------------------------------------------------------
def pick_ids(available: int, count: int, seed: int) -> list[int]:
  """`count` distinct ids of [0, available) chosen by `seed`, sorted (all if count >= available)."""
  if count >= available:
    return list(range(available))
  return sorted(int(i) for i in np.random.default_rng(seed).choice(available, count, replace=False))


def load_videos(builder, split: str, ids, frames: int, height: int, width: int,
                batch_size: int):
  """Yields the videos with these ids, in id order: uint8[b, frames, height, width, 3].

  Undecoded examples are filtered by id first, so a few videos of a large
  split cost a scan, not a decode, of the rest.
  """
  pipeline.check_size(builder, frames, height, width)
  ids = sorted(ids)
  contiguous = ids == list(range(ids[0], ids[-1] + 1))
  wanted = tf.constant(ids, tf.int64)
  feature = builder.info.features['video']

  def keep(example):
    return tf.reduce_any(tf.equal(example['video_id'], wanted))

  def decode(example):
    example = {'video': feature.decode_example(example['video']),
               'video_id': example['video_id']}
    return pipeline.preprocess(example, frames, height, width)['video']

  # Ids are positions in the split (every builder here): a range is a slice.
  first = ids[0] if contiguous else 0
  ds = builder.as_dataset(split=f'{split}[{first}:{ids[-1] + 1}]', shuffle_files=False,
                          decoders={'video': tfds.decode.SkipDecoding()})
  if not contiguous:
    ds = ds.filter(keep)
  ds = ds.map(decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  for batch in ds.batch(batch_size).prefetch(2):
    yield batch.numpy()


def render_uint8(model, codes, frames: int, height: int, width: int,
                 s: Settings, denoise=None) -> np.ndarray:
  """Renders codes to uint8[N, frames, height, width, 3] (clipped, rounded), through
  the denoising VQ-VAE-2 `denoise` (a `denoising.Denoiser`) when given."""
  videos = render.render_codes(model, codes, frames, height, width, s.chunk_pixels,
                               s.batch_size)
  if denoise is not None:
    videos = denoising.denoise_videos(denoise, videos)
  return pipeline.to_uint8(videos).numpy()


def bicubic_uint8(videos, height: int, width: int) -> np.ndarray:
  """Bicubic upsampling of uint8 videos [B, T, h, w, 3] -> uint8[B, T, height, width, 3]."""
  up = inversion.resize_frames(videos.astype(np.float32), height, width, 'bicubic')
  return np.clip(np.round(up), 0, 255).astype(np.uint8)


def _size(s: Settings, config) -> tuple[int, int]:
  return (s.size, s.size) if s.size else (config.data.height, config.data.width)


# Table 1 ---------------------------------------------------------------------
def reconstruction_table(config, model, builder, s: Settings, log) -> Table:
  """Table 1: INR-V against Single-INR on a comparison set, INR-V on the training set."""
  d, n = config.data, config.model.num_videos
  (height, width), frames = _size(s, config), d.frames
  codes = sampling.learned_codes(model)
  ids = pick_ids(n, s.num_videos or PAPER_COUNTS['reconstruction'], s.seed)
  log(f'Comparison set: {len(ids)} of {n} training videos at {frames} x {height} x {width}.')
  truth = np.concatenate(list(load_videos(builder, d.split, ids, frames, height, width,
                                          s.batch_size)))
  inrv = dict(metrics.video_quality([(render_uint8(model, codes[ids], frames, height,
                                                   width, s), truth)]))
  rows = [{'method': 'INR-V', 'error_50': inrv['error'], 'psnr_50': inrv['psnr'],
           'ssim_50': _float(inrv['ssim']), 'psnr_full': None, 'ssim_full': None}]
  if s.full:
    full = dict(metrics.video_quality(_full_pairs(model, codes, builder, config,
                                                  (frames, height, width), s, log)))
    rows[0].update(psnr_full=full['psnr'], ssim_full=_float(full['ssim']))
  if s.single_inr:
    rows.insert(0, _single_inr_row(model, truth, s, log))
  columns = [('method', 'Method'), ('error_50', 'E_50'), ('psnr_50', 'PSNR_50'),
             ('ssim_50', 'SSIM_50'), ('psnr_full', 'PSNR_FULL'), ('ssim_full', 'SSIM_FULL')]
  settings = {'comparison_ids': ids, 'num_comparison': len(ids), 'num_full': n if s.full else 0,
              'frames': frames, 'height': height, 'width': width}
  return Table('reconstruction', f'Table 1: reconstruction ({d.dataset}, {frames} x '
               f'{height} x {width}, E and PSNR on [0, 255])', columns, rows, settings)


def _full_pairs(model, codes, builder, config, shape, s: Settings, log):
  """Yields (render, truth) uint8 batches over every training video, in id order."""
  n, done = config.model.num_videos, 0
  for truth in load_videos(builder, config.data.split, range(n), *shape, s.batch_size):
    yield render_uint8(model, codes[done:done + len(truth)], *shape, s), truth
    done += len(truth)
    if done % (32 * s.batch_size) < len(truth) or done == n:
      log(f'Training set: {done}/{n} videos.')


def _single_inr_row(model, truth, s: Settings, log) -> dict:
  """Fits Single-INR to the comparison set in batches; its Table 1 row."""
  k = model.model_config.num_frequencies
  pairs, seconds = [], 0.0
  for start in range(0, len(truth), s.batch_size):
    batch = truth[start:start + s.batch_size]
    fit = single_inr.fit_videos(pipeline.to_float(batch).numpy(), model.spec, k,
                                s.single_inr_steps, s.single_inr_lr, s.seed + start,
                                s.chunk_pixels)
    recon = single_inr.render_fit(fit, *batch.shape[1:4], k, s.chunk_pixels)
    pairs.append((pipeline.to_uint8(recon).numpy(), batch))
    seconds += fit.seconds
    log(f'Single-INR: {start + len(batch)}/{len(truth)} videos '
        f'({s.single_inr_steps} steps, {fit.seconds:.1f} s).')
  q = dict(metrics.video_quality(pairs))
  return {'method': 'Single-INR', 'error_50': q['error'], 'psnr_50': q['psnr'],
          'ssim_50': _float(q['ssim']), 'psnr_full': None, 'ssim_full': None,
          'steps': s.single_inr_steps, 'lr': s.single_inr_lr,
          'seconds_per_video': seconds / len(truth)}


# Tables 2 and 4 --------------------------------------------------------------
def real_statistics(config, builder, network, size: int, s: Settings, log):
  """((mu, sigma), count) of I3D features of real training videos at size x size, cached."""
  d, n = config.data, config.model.num_videos
  ids = pick_ids(n, s.num_real, s.seed)
  key = {'dataset': builder.name, 'config': getattr(builder.builder_config, 'name', ''),
         'version': str(builder.info.version), 'split': d.split, 'size': size,
         'frames': s.fvd_frames, 'count': len(ids), 'of': n, 'seed': s.seed,
         'network': network.identity}

  def compute():
    videos = load_videos(builder, d.split, ids, s.fvd_frames, size, size, s.fvd_batch_size)
    return fvd.compute_features(network, videos, len(ids),
                                f'{len(ids)} real videos at {size}', log)

  return fvd.cached_statistics(s.fvd_cache, key, compute, log), len(ids)


def sample_fvd(config, model, builder, network, size: int, codes, s: Settings, log,
               denoise=None) -> dict:
  """FVD of random samples rendered at size x size, and what it was computed on."""
  frames = config.data.frames
  stored = builder.info.features['video'].shape[1]
  real_size = min(size, stored) if stored else size
  (mu_r, sigma_r), num_real = real_statistics(config, builder, network, real_size, s, log)

  def batches():
    for start in range(0, len(codes), s.fvd_batch_size):
      videos = render_uint8(model, codes[start:start + s.fvd_batch_size], frames, size,
                            size, s, denoise)
      yield videos[:, :s.fvd_frames]

  what = 'samples' if denoise is None else 'denoised samples'
  features = fvd.compute_features(network, batches(), len(codes),
                                  f'{len(codes)} {what} at {size}', log)
  mu, sigma = metrics.feature_statistics(features)
  return {'fvd': metrics.frechet_distance(mu, sigma, mu_r, sigma_r), 'size': size,
          'real_size': real_size, 'num_real': num_real}


def fvd_table(config, model, builder, network, s: Settings, log,
              sizes=None, denoise=None) -> Table:
  """Table 2 (one size, --size, default 128) or Table 4 (several, --sizes).

  With a denoiser (Table 2), a second row: the same samples passed through it.
  """
  if s.fvd_frames > config.data.frames:
    raise ValueError(f'FVD takes the first --fvd_frames={s.fvd_frames} frames of videos '
                     f'rendered at the training length, {config.data.frames} frames: '
                     f'pass --fvd_frames <= {config.data.frames}.')
  codes = sampling.sample_codes(sampling.learned_codes(model), s.num_samples, s.seed)
  name = 'multires' if sizes else 'fvd'
  results = [sample_fvd(config, model, builder, network, size, codes, s, log)
             for size in (sizes or [s.size or 128])]
  f = s.fvd_frames
  settings = {'num_samples': s.num_samples, 'fvd_frames': f, 'sampling': 'slerp',
              'network': network.identity, 'i3d': network.path,
              'sizes': [{k: r[k] for k in ('size', 'real_size', 'num_real')} for r in results]}
  if not sizes:
    r = results[0]
    rows = [{'method': 'INR-V', 'fvd': r['fvd']}]
    if denoise is not None:
      d = sample_fvd(config, model, builder, network, r['size'], codes, s, log, denoise)
      rows.append({'method': 'INR-V + denoising VQ-VAE-2', 'fvd': d['fvd']})
      settings['denoiser_size'] = denoise.size
    return Table(name, f'Table 2: FVD_{f} of {s.num_samples} random videos at '
                 f'{r["size"]} x {r["size"]} ({config.data.dataset})',
                 [('method', 'Method'), ('fvd', f'FVD_{f}')], rows, settings)
  columns = [('method', 'Method')] + [(f'fvd_{r["size"]}', f'{r["size"]} x {r["size"]}')
                                      for r in results]
  row = {'method': 'INR-V', **{f'fvd_{r["size"]}': r['fvd'] for r in results}}
  return Table(name, f'Table 4: FVD_{f} of {s.num_samples} random videos at several '
               f'sizes ({config.data.dataset})', columns, [row], settings)


# Table 5 ---------------------------------------------------------------------
def superres_table(config, model, builder, s: Settings, log) -> Table:
  """Table 5: training videos rendered larger than trained, against bicubic."""
  d, n = config.data, config.model.num_videos
  targets = [(scale, int(round(scale * d.height)), int(round(scale * d.width)))
             for scale in s.scales]
  for scale, h, w in targets:         # Fail before any work if truth is missing.
    try:
      pipeline.check_size(builder, d.frames, h, w)
    except pipeline.DataError as e:
      raise pipeline.DataError(f'Scale {scale:g} needs {h} x {w} ground truth: {e}') from None
  ids = pick_ids(n, s.num_videos or PAPER_COUNTS['superres'], s.seed)
  codes = sampling.learned_codes(model)[ids]
  rows = [{'method': 'Bicubic'}, {'method': 'INR-V'}]
  columns = [('method', 'Method')]
  for scale, h, w in targets:
    quality = {'Bicubic': metrics.VideoQuality(), 'INR-V': metrics.VideoQuality()}
    low = load_videos(builder, d.split, ids, d.frames, d.height, d.width, s.batch_size)
    high = load_videos(builder, d.split, ids, d.frames, h, w, s.batch_size)
    offset = 0
    for small, truth in zip(low, high):
      quality['Bicubic'].add(bicubic_uint8(small, h, w), truth)
      quality['INR-V'].add(render_uint8(model, codes[offset:offset + len(truth)],
                                        d.frames, h, w, s), truth)
      offset += len(truth)
    label = f'{scale:g}x'
    for row in rows:
      q = dict(quality[row['method']].run())
      row.update({f'psnr_{label}': q['psnr'], f'ssim_{label}': _float(q['ssim'])})
    columns += [(f'psnr_{label}', f'{label} {h}x{w} PSNR'), (f'ssim_{label}', 'SSIM')]
    log(f'Superresolution {label}: {len(ids)} videos at {h} x {w}.')
  settings = {'ids': ids, 'num_videos': len(ids), 'frames': d.frames,
              'trained': [d.height, d.width],
              'targets': [{'scale': sc, 'height': h, 'width': w} for sc, h, w in targets]}
  return Table('superres', f'Table 5: superresolution of {len(ids)} training videos '
               f'({d.dataset}, trained at {d.height} x {d.width})', columns, rows, settings)


# Table 6 ---------------------------------------------------------------------
def heldout_ids(config, builder, s: Settings) -> tuple[str, list[int]]:
  """(split, ids) of videos the model never saw: after the training range, or --heldout_split."""
  split = s.heldout_split or config.data.split
  start = 0 if s.heldout_split else config.model.num_videos
  available = pipeline.num_examples(builder, split) - start
  if available <= 0:
    raise pipeline.DataError(f'No held-out videos: the model was trained on all {start} videos '
                         f'of split {split!r}; pass --heldout_split=SPLIT.')
  count = min(s.num_videos or PAPER_COUNTS['inversion'], available)
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
      row[key] = _float(np.mean(values)) if values else None
    row['cost_minutes'] = self.seconds / self.count / 60 if cost else None
    return row


def inversion_table(config, model, builder, s: Settings, log,
                    identity: IdentityScorer | None = None) -> Table:
  """Table 6: the inversion tasks on held-out videos (identity columns by `identity`)."""
  d = config.data
  split, ids = heldout_ids(config, builder, s)
  frames, (height, width) = d.frames, _size(s, config)
  pipeline.check_size(builder, frames, s.sr_high, s.sr_high)   # Fail before any inversion.
  tasks = [t for t in inversion.TASKS if t != 'superresolution']
  masks = {t: inversion.make_mask(t, frames, height, width, s.seed) for t in tasks}
  scores = {t: _TaskScores() for t in (*tasks, 'superresolution', 'bicubic')}
  kwargs = {'steps': s.inversion_steps, 'seed': s.seed, 'chunk_pixels': s.chunk_pixels}
  videos = load_videos(builder, split, ids, frames, height, width, s.batch_size)
  highs = load_videos(builder, split, ids, frames, s.sr_high, s.sr_high, s.batch_size)
  done = 0
  for truth, high in zip(videos, highs):
    for task in tasks:
      result = inversion.invert(model, pipeline.to_float(truth).numpy(), masks[task], **kwargs)
      pred = render_uint8(model, result.codes, frames, height, width, s)
      scores[task].add(pred, truth, _context(pred, truth, masks[task]),
                       task in QUALITY_TASKS, result.seconds, identity)
    _superres_batch(model, high, scores, s, kwargs, identity)
    done += len(truth)
    log(f'Inversion tasks: {done}/{len(ids)} held-out videos.')
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
  return Table('inversion', f'Table 6: inversion of {len(ids)} held-out videos '
               f'({d.dataset}, {frames} x {height} x {width})', columns, rows, settings)


def _context(pred, truth, mask) -> np.ndarray:
  return metrics.context_l1(pred.astype(np.float32), truth.astype(np.float32), mask,
                            255.0).numpy()


def _superres_batch(model, high, scores, s: Settings, kwargs, identity) -> None:
  """Inverts area-downsampled videos at sr_low, renders at sr_high; bicubic beside."""
  frames = high.shape[1]
  low = inversion.resize_frames(high.astype(np.float32), s.sr_low, s.sr_low, 'area')
  low = np.clip(np.round(low), 0, 255).astype(np.uint8)
  result, big = inversion.superresolve(model, pipeline.to_float(low).numpy(), s.sr_high,
                                       s.sr_high, **kwargs)
  low_render = render_uint8(model, result.codes, frames, s.sr_low, s.sr_low, s)
  full = inversion.full_mask(frames, s.sr_low, s.sr_low)
  scores['superresolution'].add(pipeline.to_uint8(big).numpy(), high,
                                _context(low_render, low, full), True, result.seconds,
                                identity)
  scores['bicubic'].add(bicubic_uint8(low, s.sr_high, s.sr_high), high, quality=True,
                        identity=identity)


# The command -----------------------------------------------------------------
def check_settings(table: str, s: Settings) -> None:
  """Raises ValueError naming the first unusable setting."""
  if table not in TABLES:
    raise ValueError(f'Unknown table {table!r}; expected one of {", ".join(TABLES)}.')
  for name in ('batch_size', 'chunk_pixels', 'single_inr_steps', 'num_samples', 'num_real',
               'fvd_frames', 'fvd_batch_size', 'inversion_steps', 'sr_low', 'sr_high'):
    if getattr(s, name) < 1:
      raise ValueError(f'--{name} must be positive, got {getattr(s, name)}.')
  for name in ('num_videos', 'size'):
    if getattr(s, name) is not None and getattr(s, name) < 1:
      raise ValueError(f'--{name} must be positive, got {getattr(s, name)}.')
  if table == 'multires' and (not s.sizes or min(s.sizes) < 1):
    raise ValueError(f'--sizes must be positive sizes, got {s.sizes}.')
  if table == 'superres' and (not s.scales or min(s.scales) <= 0):
    raise ValueError(f'--scales must be positive, got {s.scales}.')
  if table in ('fvd', 'multires') and s.num_samples < 2:
    raise ValueError('FVD needs at least 2 samples (a covariance).')
  if s.denoise and table != 'fvd':
    raise ValueError('--denoise applies to --table=fvd (Table 2) only.')


def evaluate(workdir, table: str, settings: Settings = Settings(), out=None,
             log: Callable[[str], None] = print,
             identity: IdentityScorer | None = None) -> Table:
  """Computes one table over a trained workdir, writes its JSON and prints it."""
  check_settings(table, settings)
  network = None
  if table in ('fvd', 'multires'):          # Fails fast (with how to get I3D) if absent.
    network = fvd.load_feature_network(settings.i3d)
  denoise = denoising.load_denoiser(workdir) if settings.denoise else None
  config, model = workdir_lib.load_model(workdir)
  if settings.fvd_cache is None:
    settings = dataclasses.replace(settings, fvd_cache=str(pathlib.Path(workdir) / 'fvd_cache'))
  builder = pipeline.get_builder(config.data.dataset, settings.data_dir or config.data.data_dir)
  if table == 'reconstruction':
    result = reconstruction_table(config, model, builder, settings, log)
  elif table in ('fvd', 'multires'):
    sizes = list(settings.sizes) if table == 'multires' else None
    result = fvd_table(config, model, builder, network, settings, log, sizes, denoise)
  elif table == 'superres':
    result = superres_table(config, model, builder, settings, log)
  else:
    result = inversion_table(config, model, builder, settings, log, identity)
  result.settings.update(workdir=str(workdir), dataset=config.data.dataset,
                         checkpoint=workdir_lib.latest_checkpoint(workdir),
                         seed=settings.seed, options=dataclasses.asdict(settings))
  out = pathlib.Path(out or pathlib.Path(workdir) / f'eval_{table}.json')
  files.write_json(out, result.to_dict())
  log(result.format())
  log(f'Wrote {out}.')
  return result


def define_flags(flag_values=flags.FLAGS) -> None:
  """The command's flags (defined only when run as a program: no clash on import)."""
  d = Settings()
  string, integer, enum, boolean, real, strings = (
      functools.partial(define, flag_values=flag_values) for define in (
          flags.DEFINE_string, flags.DEFINE_integer, flags.DEFINE_enum, flags.DEFINE_bool,
          flags.DEFINE_float, flags.DEFINE_list))
  string('workdir', None, 'A trained workdir (config.json + checkpoints/).')
  enum('table', None, list(TABLES), 'Which table to compute.')
  string('out', None, 'JSON output (default <workdir>/eval_<table>.json).')
  integer('num_videos', None, 'Videos: comparison set (reconstruction, 50), training '
          'videos (superres, 2048), held-out videos (inversion, 256).')
  integer('size', None, 'Square render size (default 128 for fvd, the training size '
          'for reconstruction and inversion).')
  integer('batch_size', d.batch_size, 'Videos rendered / fitted / inverted together.')
  integer('seed', d.seed, 'Seeds the video choices, samples, masks and fits.')
  integer('chunk_pixels', d.chunk_pixels, 'Pixels per INR pass (memory bound).')
  string('data_dir', None, 'TFDS data_dir (default: the workdir config\'s).')
  boolean('full', d.full, 'reconstruction: also PSNR/SSIM over the whole training set.')
  boolean('single_inr', d.single_inr, 'reconstruction: fit the Single-INR baseline.')
  integer('single_inr_steps', d.single_inr_steps, 'Single-INR Adam steps.')
  real('single_inr_lr', d.single_inr_lr, 'Single-INR Adam learning rate.')
  string('i3d', None, 'Directory of the I3D Kinetics-400 TF Hub module (fvd, multires).')
  integer('num_samples', d.num_samples, 'Random videos for FVD.')
  integer('num_real', d.num_real, 'Real training videos for FVD (at most all).')
  integer('fvd_frames', d.fvd_frames, 'Frames per video for FVD (FVD_16).')
  integer('fvd_batch_size', d.fvd_batch_size, 'Videos per I3D batch.')
  string('fvd_cache', None, 'Real-statistics cache (default <workdir>/fvd_cache).')
  strings('sizes', [str(x) for x in d.sizes], 'multires: render sizes.')
  strings('scales', [f'{x:g}' for x in d.scales], 'superres: scales of the training size.')
  integer('inversion_steps', d.inversion_steps, 'Adam steps per inversion.')
  string('heldout_split', None, 'inversion: split of held-out videos (default: the '
         'training split after the trained videos).')
  integer('sr_low', d.sr_low, 'inversion: superresolution input size.')
  integer('sr_high', d.sr_high, 'inversion: superresolution output size.')
  boolean('denoise', d.denoise, 'fvd: add the row of INR-V + the workdir\'s denoising '
          'VQ-VAE-2 (python -m inrv_tf.denoise train), as Table 2 does.')


def settings_from_flags(flag_values=flags.FLAGS) -> Settings:
  """Parsed flags -> Settings."""
  values = {f.name: flag_values[f.name].value for f in dataclasses.fields(Settings)}
  values['sizes'] = tuple(int(x) for x in values['sizes'])
  values['scales'] = tuple(float(x) for x in values['scales'])
  return Settings(**values)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  logging.set_verbosity(logging.WARNING)
  FLAGS = flags.FLAGS
  try:
    if not FLAGS.workdir or not FLAGS.table:
      raise ValueError('--workdir and --table are required.')
    evaluate(FLAGS.workdir, FLAGS.table, settings_from_flags(), FLAGS.out)
  except (ValueError, FileNotFoundError) as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(1)


if __name__ == '__main__':
  define_flags()
  app.run(main)
