"""Pictures of a run: truth against reconstruction, training curves, side-by-side strips.

    image = montage(truth, recon)                  # rows: videos, truth strip over recon strip
    plot_training_curves(curves, 'training_curves.png')   # loss and PSNR over the steps
    image = strips([seen, result, truth])          # one video's versions, one strip each
    video = side_by_side([seen, result, truth])    # the same, frame by frame, left to right

Every picture is uint8 RGB. A strip shows up to MAX_FRAMES frames of a video,
evenly spaced from the first to the last, left to right; frames smaller than
MIN_SIDE pixels are enlarged by an integer factor (nearest neighbour), so a
32 x 32 run stays readable. Plots use matplotlib's Agg backend (no display).
Arrays in, pictures out: nothing here renders (training's montage is
`evaluate.reconstruction_table.write_montage`; inversion's side-by-side is
`apps.video_inversion`), and the training loop draws nothing itself.
"""

from __future__ import annotations

import pathlib

import numpy as np

from inrv_tf import files

MAX_FRAMES = 8       # Frames per strip.
MIN_SIDE = 64        # Frames are enlarged to at least this many pixels high.
GAP = 2              # White rows between two videos of a montage.
MONTAGE_VIDEOS = 8   # Training videos in the end-of-training montage.
CURVES_SIZE = (8, 6)     # Inches; at CURVES_DPI: an 800 x 600 PNG.
CURVES_DPI = 100


def frame_indices(frames: int, count: int = MAX_FRAMES) -> np.ndarray:
  """int[min(count, frames)]: evenly spaced frame indices, first and last included."""
  return np.unique(np.linspace(0, frames - 1, min(count, frames)).round().astype(int))


def scale_for(height: int, min_side: int = MIN_SIDE) -> int:
  """The integer enlargement that makes `height` at least `min_side` (1 if it is)."""
  return max(1, -(-min_side // height))


def strip(video, max_frames: int = MAX_FRAMES, scale: int = 1) -> np.ndarray:
  """uint8[T, H, W, 3] -> uint8[H * scale, k * W * scale, 3], k = min(max_frames, T)."""
  video = np.asarray(video)
  frames = video[frame_indices(len(video), max_frames)]                  # [k, H, W, 3]
  row = np.concatenate(list(frames), axis=1)                            # [H, k*W, 3]
  return row.repeat(scale, axis=0).repeat(scale, axis=1)


def strips(videos, max_frames: int = MAX_FRAMES, min_side: int = MIN_SIDE) -> np.ndarray:
  """Versions of one video (uint8[T, H, W, 3] each, same shape), one strip each, top down.

  Returns:
    uint8[n * H * s, k * W * s, 3], s = scale_for(H, min_side).
  """
  scale = scale_for(np.asarray(videos[0]).shape[1], min_side)
  return np.concatenate([strip(v, max_frames, scale) for v in videos], axis=0)


def montage(truth, recon, max_frames: int = MAX_FRAMES, min_side: int = MIN_SIDE,
            gap: int = GAP) -> np.ndarray:
  """Truth against reconstruction: per video, its truth strip over its reconstruction's.

  Args:
    truth, recon: uint8[N, T, H, W, 3], the same videos in the same order.
  Returns:
    uint8[N * 2 * H * s + (N - 1) * gap, k * W * s, 3]; s = scale_for(H, min_side),
    k = min(max_frames, T); white rows between videos.
  """
  truth, recon = np.asarray(truth), np.asarray(recon)
  if truth.shape != recon.shape or truth.ndim != 5 or not len(truth):
    raise ValueError(f'montage needs two uint8[N >= 1, T, H, W, 3] of one shape, got '
                     f'{truth.shape} and {recon.shape}.')
  rows = []
  for i in range(len(truth)):
    if i:
      width = rows[0].shape[1]
      rows.append(np.full((gap, width, 3), 255, np.uint8))
    rows.append(strips([truth[i], recon[i]], max_frames, min_side))
  return np.concatenate(rows, axis=0)


def side_by_side(videos) -> np.ndarray:
  """Versions of one video (uint8[T, H, W, 3] each) left to right: uint8[T, H, n * W, 3]."""
  return np.concatenate([np.asarray(v) for v in videos], axis=2)


def plot_training_curves(curves: dict, path, title: str = '') -> None:
  """Loss (log scale) and PSNR against the step, one panel each, as an 800 x 600 PNG.

  Args:
    curves: {'step': [int], 'loss': [float], 'psnr': [float] in dB, and optionally
      'stage_videos': [int]}: the numbers of training's progress lines. A change of
      'stage_videos' (a progressive stage) is marked by a dotted line.
  """
  import matplotlib
  matplotlib.use('Agg')
  from matplotlib import figure    # A Figure of its own: no pyplot state, no display.
  steps = np.asarray(curves.get('step', []))
  fig = figure.Figure(figsize=CURVES_SIZE, dpi=CURVES_DPI)
  loss_ax, psnr_ax = fig.subplots(2, 1, sharex=True)
  loss_ax.plot(steps, curves.get('loss', []), color='tab:blue')
  if len(steps) and min(curves['loss']) > 0:
    loss_ax.set_yscale('log')
  loss_ax.set_ylabel('loss (of the step\'s batch)')
  psnr_ax.plot(steps, curves.get('psnr', []), color='tab:orange')
  psnr_ax.set_ylabel('PSNR of the batch (dB)')
  psnr_ax.set_xlabel('step')
  stages = curves.get('stage_videos') or []
  for i in range(1, len(stages)):
    if stages[i] != stages[i - 1]:
      for ax in (loss_ax, psnr_ax):
        ax.axvline(steps[i - 1], color='gray', linestyle=':', linewidth=1)
  for ax in (loss_ax, psnr_ax):
    ax.grid(True, alpha=0.3)
  fig.suptitle(title or 'Training curves')
  path = pathlib.Path(path)
  with files.atomic_path(path, '.png') as tmp:
    fig.savefig(tmp, format='png', dpi=CURVES_DPI)
