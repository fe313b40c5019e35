"""Videos from the learned space, written to files: random samples and slerp walks.

    paths = generate_videos(workdir, out, config_lib.GenerateSettings(num_samples=8))
    interpolate_videos(workdir, out, config_lib.InterpolateSettings(steps=8), ids=[0, 1])

The commands `python -m inrv_tf.generate` and `python -m inrv_tf.interpolate`
are these two functions. Sizes left None are the training size.
"""

from __future__ import annotations

import contextlib
import pathlib
from typing import Callable

import numpy as np

from inrv_tf import config as config_lib
from inrv_tf import files
from inrv_tf import progress as progress_lib
from inrv_tf import workdir as workdir_lib
from inrv_tf.apps import sampling
from inrv_tf.data import pipeline
from inrv_tf.denoiser import denoising
from inrv_tf.model import render


def _load(workdir, out, s):
  """Checks the request before anything is loaded; (model, size, out folder).

  The settings' check_budget resolves the size (the training size where
  None) and refuses one over the pixel budget; then the size is checked
  against what a render can index and --out is made and checked writable.
  Only then is the model loaded.
  """
  workdir = workdir_lib.Workdir(workdir)
  size = s.check_budget(workdir.read_config().data)
  render.check_size(*size, s.chunk_pixels)
  out = files.check_writable_dir(out, '--out')
  _, model = workdir.load_model()
  return model, size, out


def write_rendered(model, codes, size, stems, s, grid: pathlib.Path | None = None,
                   transform: Callable | None = None) -> None:
  """Renders codes into <stem>.mp4/.gif each (and a grid video of them all).

  Videos longer than one part of `render.iter_frames` are rendered and
  written frame range by frame range, every file open at once, so memory
  follows the range, not the videos (an .mp4 streams to ffmpeg; a .gif keeps
  its frames at one byte a pixel). Shorter ones are rendered whole and
  written one file after the other.

  Args:
    codes: f32[N, latent_dim]; stems: N paths without suffix.
    size: (frames, height, width). s: settings (chunk_pixels, batch_size, fps).
    grid: stem of a grid video of all N, if any (`render.tile_videos`: near-square,
      row-major; cells past N repeat the last video, so none is empty).
    transform: f32[N, t, H, W, 3] -> the same, applied to each range (denoising).
  """
  outputs = [(stem, lambda frames, i=i: frames[i]) for i, stem in enumerate(stems)]
  if grid:
    outputs.append((grid, lambda frames: render.tile_videos(frames, fill_last=True)))
  parts = render.iter_frames(model, codes, *size, s.chunk_pixels, s.batch_size)
  convert = lambda part: pipeline.to_uint8(transform(part) if transform else part).numpy()
  if render.frames_per_part(len(codes), *size[1:]) >= size[0]:
    frames = convert(next(parts))                         # uint8[N, T, H, W, 3]
    for stem, select in outputs:
      video = select(frames)
      for suffix in files.VIDEO_SUFFIXES:
        files.write_video(f'{stem}{suffix}', video, s.fps)
    return
  with contextlib.ExitStack() as stack:
    writers = [(select, [stack.enter_context(files.VideoWriter(f'{stem}{suffix}', s.fps))
                         for suffix in files.VIDEO_SUFFIXES]) for stem, select in outputs]
    for part in parts:
      frames = convert(part)                              # uint8[N, t, H, W, 3]
      for select, video_writers in writers:
        video = select(frames)
        for writer in video_writers:
          writer.append(video)


def generate_videos(workdir, out, s: config_lib.GenerateSettings,
                    log: Callable[[str], None] = print) -> list[pathlib.Path]:
  """Samples codes, renders them and writes sample_NNN.mp4/.gif and codes.npy.

  Returns:
    The .mp4 paths, in sample order. The same seed gives the same videos.
  Raises:
    PixelBudgetError, OutputError (ValueErrors): before the model is loaded.
  """
  model, (frames, height, width), out = _load(workdir, out, s)
  denoise = None
  if s.denoise:
    denoising.cached_denoiser(workdir)   # No denoiser: fail before rendering anything.
    denoise = lambda videos: denoising.maybe_denoise(videos, workdir, True)
  codes = sampling.sample_codes(sampling.learned_codes(model), s.num_samples, s.seed, s.mode)
  np.save(out / 'codes.npy', codes)
  # A line every 10 s with the rate and ETA (a bar on a terminal).
  progress = progress_lib.Progress(len(codes), 'Rendering', 'video', log=log)
  with progress:
    for start in range(0, len(codes), s.batch_size):
      part = codes[start:start + s.batch_size]
      stems = [out / f'sample_{i:03d}' for i in range(start, start + len(part))]
      write_rendered(model, part, (frames, height, width), stems, s, transform=denoise)
      progress.update(start + len(part))
    what = f'denoised {s.mode}' if s.denoise else s.mode
    progress.close(f'Wrote {len(codes)} {what} samples of {frames} x {height} x {width} to '
                   f'{out} in {progress_lib.format_duration(progress.elapsed)}.')
  return [out / f'sample_{i:03d}.mp4' for i in range(len(codes))]


def endpoint_codes(model, ids=None, paths=None) -> list[np.ndarray]:
  """The two codes to walk between, from training ids or .npy files."""
  if (ids is None) == (paths is None):
    raise ValueError('Give exactly one of --ids=A,B or --codes=a.npy,b.npy.')
  given = ids if ids is not None else paths
  if len(given) != 2:
    raise ValueError(f'Interpolation needs two endpoints, got {len(given)}: {given}.')
  if paths is not None:
    codes = []
    for path in paths:
      try:
        codes.append(np.load(path))
      except (OSError, ValueError) as e:
        raise ValueError(f'Cannot read code file {path}: {e}') from e
    return codes
  table = sampling.learned_codes(model)
  try:
    ids = [int(i) for i in ids]
  except ValueError:
    raise ValueError(f'--ids must be integers, got {given}.') from None
  for i in ids:
    if not 0 <= i < len(table):
      raise ValueError(f'Video id {i} is out of range: the model learned '
                       f'{len(table)} videos (ids 0..{len(table) - 1}).')
  return [table[i] for i in ids]


def interpolate_videos(workdir, out, s: config_lib.InterpolateSettings, ids=None,
                       paths=None, log: Callable[[str], None] = print) -> None:
  """Renders the slerp path between two codes; writes the grid, the steps and codes.npy.

  Writes interpolation.mp4/.gif (a grid video whose cells are the K videos,
  row-major, near-square: ceil(sqrt(K)) columns; the cells past K repeat the
  second end, so no cell is empty), step_00.mp4/.gif ... (step_00 is the first
  end, step_{K-1} the second) and codes.npy (f32[K, latent_dim]).
  """
  model, (frames, height, width), out = _load(workdir, out, s)
  z0, z1 = endpoint_codes(model, ids, paths)
  codes = sampling.interpolation_codes(z0, z1, s.steps)
  if codes.shape[1] != model.model_config.latent_dim:
    raise ValueError(f'Codes have {codes.shape[1]} numbers; this model\'s are '
                     f'{model.model_config.latent_dim}.')
  np.save(out / 'codes.npy', codes)
  write_rendered(model, codes, (frames, height, width),
                 [out / f'step_{i:02d}' for i in range(len(codes))], s,
                 grid=out / 'interpolation')
  log(f'Wrote {s.steps} interpolated videos of {frames} x {height} x {width} and '
      f'their grid to {out}.')
