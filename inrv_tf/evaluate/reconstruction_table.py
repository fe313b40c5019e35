"""Table 1: reconstruction, and the evaluator that training's metrics.json comes from.

    table = reconstruction_table(config, model, builder, settings, log)      # Table 1
    summary = dict(reconstruction_quality(model, builder, config, out_dir))  # end of training
    strips = filmstrips(model, config, count=2)                              # TensorBoard images
    image = write_montage(model, builder, config, 'montage.png', count=8)     # truth vs render

Reconstruction quality has one definition here, Table 1's: each training
video rendered from its learned code at the training size, both sides as
uint8 frames on [0, 255], PSNR and SSIM per video averaged over the set, E of
equation 6.
"""

from __future__ import annotations

from typing import Callable, Iterator

import numpy as np

from inrv_tf import config as config_lib
from inrv_tf import figures
from inrv_tf import files
from inrv_tf.apps import sampling
from inrv_tf.data import pipeline
from inrv_tf.evaluate import single_inr
from inrv_tf.evaluate import table as table_lib
from inrv_tf.model import metrics
from inrv_tf.model import render

COLUMNS = [('method', 'Method'), ('error_50', 'E_50'), ('psnr_50', 'PSNR_50'),
           ('ssim_50', 'SSIM_50'), ('psnr_full', 'PSNR_FULL'), ('ssim_full', 'SSIM_FULL')]


def training_set_pairs(model, builder, config: config_lib.Config, shape,
                       s: config_lib.EvalSettings, log: Callable[[str], None] | None = None,
                       count: int | None = None
                       ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
  """Yields (render, truth, ids): uint8 batches of the training videos, in id order.

  Args:
    shape: (frames, height, width) of the renders and of the resized truth.
    count: the first `count` videos (None: all of them).
  """
  n, done = min(count or config.model.num_videos, config.model.num_videos), 0
  codes = sampling.learned_codes(model)
  for truth in table_lib.load_videos(builder, config.data.split, range(n), *shape,
                                     s.batch_size):
    ids = np.arange(done, done + len(truth))
    yield table_lib.render_uint8(model, codes[ids], *shape, s), truth, ids
    done += len(truth)
    if log and (done % (32 * s.batch_size) < len(truth) or done == n):
      log(f'Training set: {done}/{n} videos.')


def reconstruction_quality(model, builder, config: config_lib.Config, out_dir=None,
                           num_written: int = 0, batch_size: int = 4
                           ) -> Iterator[tuple[str, float]]:
  """Yields Table 1's numbers over the training videos (config.train.final_eval_videos
  of them, or all) at the training size.

  ('error', E), ('psnr', mean dB), ('ssim', mean), ('num_videos', N), then
  ('frames', T), ('height', H), ('width', W). With `out_dir`, the first
  `num_written` videos are written there as video_<id>.mp4/.gif and
  video_<id>_vs_truth.mp4/.gif (truth left, reconstruction right).
  """
  d = config.data
  shape = (d.frames, d.height, d.width)
  quality, written = metrics.VideoQuality(max_val=255.0), 0
  for pred, truth, ids in training_set_pairs(model, builder, config, shape,
                                             config_lib.EvalSettings(batch_size=batch_size),
                                             count=config.train.final_eval_videos):
    quality.add(pred, truth)
    for i in range(min(len(ids), num_written - written) if out_dir else 0):
      side_by_side = np.concatenate([truth[i], pred[i]], axis=2)
      for suffix in ('.mp4', '.gif'):
        files.write_video(f'{out_dir}/video_{ids[i]:05d}{suffix}', pred[i])
        files.write_video(f'{out_dir}/video_{ids[i]:05d}_vs_truth{suffix}', side_by_side)
      written += 1
  yield from quality.run()
  yield from zip(('frames', 'height', 'width'), shape)


def filmstrips(model, config: config_lib.Config, count: int) -> np.ndarray:
  """Up to 8 frames side by side of the first `count` training videos' reconstructions
  (`figures.strip`: evenly spaced, first and last included, as in the montage).

  Returns:
    uint8[count, H, k * W, 3], k = min(8, frames).
  """
  d = config.data
  codes = sampling.learned_codes(model)[:count]
  video = pipeline.to_uint8(render.render_video(model, codes, d.frames, d.height,
                                                d.width)).numpy()
  return np.stack([figures.strip(v) for v in video])


def write_montage(model, builder, config: config_lib.Config, path,
                  count: int = figures.MONTAGE_VIDEOS) -> np.ndarray:
  """Renders the first `count` training videos at the training size; writes the PNG of
  their truth over their reconstruction (`figures.montage`).

  Returns:
    The montage, uint8[rows, columns, 3].
  """
  d = config.data
  pairs = list(training_set_pairs(model, builder, config, (d.frames, d.height, d.width),
                                  config_lib.EvalSettings(batch_size=4), count=count))
  image = figures.montage(np.concatenate([truth for _, truth, _ in pairs]),
                          np.concatenate([pred for pred, _, _ in pairs]))
  files.write_image(path, image)
  return image


def reconstruction_table(config, model, builder, s: config_lib.EvalSettings,
                         log) -> table_lib.Table:
  """Table 1: INR-V against Single-INR on a comparison set, INR-V on the training set."""
  d, n = config.data, config.model.num_videos
  (height, width), frames = table1_size(s, builder, log), d.frames
  codes = sampling.learned_codes(model)
  ids = table_lib.pick_ids(n, s.num_videos or config_lib.EVAL_COUNTS['reconstruction'],
                           s.seed)
  log(f'Comparison set: {len(ids)} of {n} training videos at {frames} x {height} x {width}.')
  truth = np.concatenate(list(table_lib.load_videos(builder, d.split, ids, frames, height,
                                                    width, s.batch_size)))
  inrv = dict(metrics.video_quality([(table_lib.render_uint8(model, codes[ids], frames,
                                                             height, width, s), truth)]))
  rows = [{'method': 'INR-V', 'error_50': inrv['error'], 'psnr_50': inrv['psnr'],
           'ssim_50': table_lib.number(inrv['ssim']), 'psnr_full': None, 'ssim_full': None}]
  if s.full:
    pairs = ((pred, truth) for pred, truth, _ in training_set_pairs(
        model, builder, config, (frames, height, width), s, log))
    full = dict(metrics.video_quality(pairs))
    rows[0].update(psnr_full=full['psnr'], ssim_full=table_lib.number(full['ssim']))
  if s.single_inr:
    rows.insert(0, _single_inr_row(model, truth, s, log))
  settings = {'comparison_ids': ids, 'num_comparison': len(ids), 'num_full': n if s.full else 0,
              'frames': frames, 'height': height, 'width': width}
  return table_lib.Table('reconstruction', f'Table 1: reconstruction ({d.dataset}, {frames} x '
                         f'{height} x {width}, E and PSNR on [0, 255])', COLUMNS, rows,
                         settings)


def table1_size(s: config_lib.EvalSettings, builder, log) -> tuple[int, int]:
  """Table 1's (height, width): --size, else --eval_size (128, the paper's), at most the
  dataset's stored side (a smaller truth cannot be compared at 128)."""
  if s.size:
    return s.size, s.size
  stored = [side for side in pipeline.video_shape(builder)[1:3] if side]
  side = min([s.eval_size] + stored)
  if side < s.eval_size:
    log(f'Table 1 at {side} x {side}: the dataset stores {stored[0]} x {stored[-1]} videos '
        f'(--eval_size={s.eval_size} needs truth of that size).')
  return side, side


def _single_inr_row(model, truth, s: config_lib.EvalSettings, log) -> dict:
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
          'ssim_50': table_lib.number(q['ssim']), 'psnr_full': None, 'ssim_full': None,
          'steps': s.single_inr_steps, 'lr': s.single_inr_lr,
          'seconds_per_video': seconds / len(truth)}
