"""Inverting video files and dataset videos, and writing what came out (the `invert` command).

    summary = invert_videos(workdir, out, config_lib.InversionSettings(task='inpainting'),
                            video_path='clip.mp4')

Per video NAME (a file's stem, or video_00012 for dataset id 12) it writes
NAME_input (the whole video), NAME_mask (the visible input, hidden pixels
black; not for superresolution), NAME_result (.mp4 and .gif), NAME_code.npy,
NAME_side_by_side (.mp4, .gif: the input as the inversion saw it, the result
and the truth, left to right, frame by frame; .png: up to 8 frames of each,
one strip under the other), and metrics.json (PSNR, SSIM, Context-L1, steps,
seconds per video and their means). Superresolution adds bicubic's scores and
the result's against bicubic, and writes NAME_truth and NAME_bicubic; its
side by side shows the low input enlarged (nearest neighbour) to the result's
size, and a truth panel when there is a high-resolution truth. --denoise adds
NAME_denoised and its scores as <metric>_denoised. The optimisation itself is
`apps.inversion`.
"""

from __future__ import annotations

import pathlib
from typing import Callable

import numpy as np

from inrv_tf import config as config_lib
from inrv_tf import figures
from inrv_tf import files
from inrv_tf import progress as progress_lib
from inrv_tf import workdir as workdir_lib
from inrv_tf.apps import inversion
from inrv_tf.data import pipeline
from inrv_tf.denoiser import denoising
from inrv_tf.model import render


# Inputs ----------------------------------------------------------------------
def dataset_videos(config, ids, height: int, width: int) -> list:
  """Videos of the workdir's dataset by id: [(name, uint8[T, height, width, 3])]."""
  d = config.data
  builder = pipeline.get_builder(d.dataset, d.data_dir)
  pipeline.check_size(builder, d.frames, height, width)
  available = pipeline.num_examples(builder, d.split)
  out = []
  for raw in ids:
    try:
      i = int(raw)
    except ValueError:
      raise ValueError(f'--dataset_ids must be integers, got {raw!r}.') from None
    if not 0 <= i < available:
      raise ValueError(f'Video id {i} is out of range: split {d.split!r} of '
                       f'{builder.name!r} has {available} videos.')
    example = next(iter(builder.as_dataset(split=f'{d.split}[{i}:{i + 1}]')))
    video = pipeline.preprocess(example, d.frames, height, width)['video']
    out.append((f'video_{i:05d}', video.numpy()))
  return out


def load_inputs(config, video_path, ids, height, width, log=None) -> list:
  """[(name, f32[T, height, width, 3] in [-1, 1])] from a video file or dataset ids.

  A file's first T frames are read (no more), cropped to the aspect of
  height x width if they have another (logged) and resized.
  """
  if (video_path is None) == (ids is None):
    raise ValueError('Give exactly one of --video=FILE or --dataset_ids=A,B,...')
  frames = config.data.frames
  if video_path is not None:
    video = files.read_video(video_path, max_frames=frames)
    return [(pathlib.Path(video_path).stem,
             inversion.prepare_video(video, frames, height, width, str(video_path), log))]
  return [(name, inversion.prepare_video(v, frames, height, width, name))
          for name, v in dataset_videos(config, ids, height, width)]


def load_superresolution_inputs(config, video_path, ids, low: int, high: int, log):
  """(names, low f32[N, T, low, low, 3], truth f32[N, T, high, high, 3] or None).

  The truth exists when the input is at least high x high: the low input is
  then its area downsampling (the usual protocol); otherwise the input itself
  is resized to low x low and only the comparison with bicubic is reported.
  """
  try:
    if video_path is not None:
      shape = files.read_video(video_path, max_frames=1).shape
      if min(shape[1:3]) < high:
        raise pipeline.DataError(f'{video_path} is {shape[1]} x {shape[2]}')
    inputs = load_inputs(config, video_path, ids, high, high, log)
    truth = np.stack([v for _, v in inputs])
    low_videos = inversion.resize_frames(truth, low, low, 'area')
  except pipeline.DataError as e:
    log(f'No {high} x {high} ground truth ({e}); inverting the input resized to '
        f'{low} x {low}.')
    inputs = load_inputs(config, video_path, ids, low, low, log)
    truth, low_videos = None, np.stack([v for _, v in inputs])
  return [name for name, _ in inputs], low_videos, truth


# One batch -------------------------------------------------------------------
def _invert_kwargs(s: config_lib.InversionSettings) -> dict:
  return {'steps': s.steps, 'lr': s.lr, 'loss': s.loss, 'init': s.init, 'seed': s.seed,
          'chunk_pixels': s.chunk_pixels}


def masked_batch(model, videos, s: config_lib.InversionSettings, denoiser, log):
  """Inverts videos f32[B, T, H, W, 3] on the task's mask; (result, scores, outputs)."""
  mask = inversion.make_mask(s.task, *videos.shape[1:4], seed=s.seed)
  result = inversion.invert(model, videos, mask, log=log, **_invert_kwargs(s))
  full = render.render_codes(model, result.codes, *videos.shape[1:4], s.chunk_pixels)
  shown = np.where(mask[None, ..., None], videos, -1.0)   # Hidden pixels black.
  scores = inversion.score(full, videos, mask)
  outputs = {'input': videos, 'mask': shown, 'result': full}
  _add_denoised(outputs, scores, denoiser, videos, mask)
  return result, scores, outputs


def superresolution_batch(model, low, truth, s: config_lib.InversionSettings, denoiser, log):
  """Inverts low f32[B, T, l, l, 3], renders at high; (result, scores, outputs)."""
  high_size = s.high_size
  result, high = inversion.superresolve(model, low, high_size, high_size, log=log,
                                        **_invert_kwargs(s))
  low_render = render.render_codes(model, result.codes, *low.shape[1:4], s.chunk_pixels)
  bicubic = np.clip(inversion.resize_frames(low, high_size, high_size, 'bicubic'),
                    -1.0, 1.0)
  scores = {'context_l1': [float(v) for v in inversion.context_l1(
      low_render, low, inversion.full_mask(*low.shape[1:4]))]}
  for key, value in inversion.score(high, bicubic).items():
    scores[f'{key}_vs_bicubic'] = value
  outputs = {'input': low, 'bicubic': bicubic, 'result': high}
  if truth is not None:
    scores.update(inversion.score(high, truth))
    for key, value in inversion.score(bicubic, truth).items():
      scores[f'bicubic_{key}'] = value
    outputs['truth'] = truth
  _add_denoised(outputs, scores, denoiser, truth)
  return result, scores, outputs


def _add_denoised(outputs, scores, denoiser, target, mask=None) -> None:
  """With a denoiser: outputs['denoised'] is the result through it, and its scores
  against `target` (if any) join `scores` as '<metric>_denoised'."""
  if denoiser is None:
    return
  outputs['denoised'] = denoising.denoise_videos(denoiser, outputs['result'])
  if target is not None:
    for key, value in inversion.score(outputs['denoised'], target, mask).items():
      scores[f'{key}_denoised'] = value


def side_by_side_panels(outputs) -> list:
  """What a side-by-side shows: [as seen, result, truth] (no truth for a superresolution
  input smaller than the result), each f32[B, T, H, W, 3] at the result's size."""
  result = outputs['result']
  if 'mask' in outputs:
    return [outputs['mask'], result, outputs['input']]
  seen = inversion.resize_frames(outputs['input'], *result.shape[2:4], 'nearest')
  return [seen, result] + ([outputs['truth']] if 'truth' in outputs else [])


def write_batch(names, result, scores, outputs, out: pathlib.Path, fps: int) -> dict:
  """Writes each video's files, side by side and code; returns {name: metrics}."""
  per_video = {}
  panels = side_by_side_panels(outputs)
  for i, name in enumerate(names):
    for kind, batch in outputs.items():
      video = pipeline.to_uint8(batch[i]).numpy()
      for suffix in ('.mp4', '.gif'):
        files.write_video(out / f'{name}_{kind}{suffix}', video, fps)
    videos = [pipeline.to_uint8(panel[i]).numpy() for panel in panels]
    for suffix in ('.mp4', '.gif'):
      files.write_video(out / f'{name}_side_by_side{suffix}', figures.side_by_side(videos), fps)
    files.write_image(out / f'{name}_side_by_side.png', figures.strips(videos))
    np.save(out / f'{name}_code.npy', result.codes[i])
    per_video[name] = {key: values[i] for key, values in scores.items()}
    per_video[name].update(steps=result.steps, seconds=result.seconds / len(names),
                           final_loss=float(result.losses[-1, i]))
  return per_video


def _mean(values):
  values = [v for v in values if v is not None]
  return float(sum(values) / len(values)) if values else None


# The command -------------------------------------------------------------------
def invert_videos(workdir, out, s: config_lib.InversionSettings, video_path=None, ids=None,
                  log: Callable[[str], None] = print) -> dict:
  """Loads the model and inputs, inverts in batches, writes the files and metrics.json.

  Raises:
    PixelBudgetError, OutputError (ValueErrors): before the model is loaded.
  """
  workdir = workdir_lib.Workdir(workdir)
  s.check_budget(workdir.read_config().data, 1 if ids is None else len(ids))
  out = files.check_writable_dir(out, '--out')
  config, model = workdir.load_model()
  denoiser = denoising.load_denoiser(workdir) if s.denoise else None
  if s.task == 'superresolution':
    names, videos, truth = load_superresolution_inputs(
        config, video_path, ids, s.low_size, s.high_size, log)
  else:
    height = width = s.size
    if s.size is None:
      height, width = config.data.height, config.data.width
    inputs = load_inputs(config, video_path, ids, height, width, log)
    names, videos, truth = [n for n, _ in inputs], np.stack([v for _, v in inputs]), None
  per_video = {}
  progress = progress_lib.Progress(len(names), 'Inverted', 'video', log=None)
  for start in range(0, len(names), s.batch_size):
    part = slice(start, start + s.batch_size)
    log(f'Inverting {", ".join(names[part])} ({s.task}, {s.steps} steps).')
    if s.task == 'superresolution':
      outcome = superresolution_batch(
          model, videos[part], None if truth is None else truth[part], s, denoiser, log)
    else:
      outcome = masked_batch(model, videos[part], s, denoiser, log)
    per_video.update(write_batch(names[part], *outcome, out, s.fps))
    progress.update(len(per_video))
    if len(per_video) < len(names):
      log(progress.line())
  keys = sorted({k for m in per_video.values() for k in m})
  summary = {'task': s.task, 'workdir': str(workdir), 'frames': int(videos.shape[1]),
             'height': int(videos.shape[2]), 'width': int(videos.shape[3]),
             'steps': s.steps, 'lr': s.lr, 'loss': s.loss, 'init': s.init, 'seed': s.seed,
             'videos': per_video,
             'mean': {k: _mean([m.get(k) for m in per_video.values()]) for k in keys}}
  if s.task == 'superresolution':
    summary.update(low_size=s.low_size, high_size=s.high_size)
  files.write_json(out / 'metrics.json', summary)
  mean = summary['mean']
  quality = f'PSNR {mean["psnr"]:.2f} dB, ' if mean.get('psnr') is not None else ''
  if mean.get('ssim') is not None:
    quality += f'SSIM {mean["ssim"]:.4f}, '
  log(f'{s.task}: {quality}Context-L1 {mean["context_l1"]:.2f}, '
      f'{mean["seconds"]:.1f} s per video, {len(names)} videos in '
      f'{progress_lib.format_duration(progress.elapsed)}; wrote {out / "metrics.json"} '
      f'and {names[0]}_side_by_side.png ...')
  return summary
