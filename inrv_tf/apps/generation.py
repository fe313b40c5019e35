"""Videos from the learned space, written to files: random samples and slerp walks.

    paths = generate_videos(workdir, out, config_lib.GenerateSettings(num_samples=8))
    interpolate_videos(workdir, out, config_lib.InterpolateSettings(steps=8), ids=[0, 1])

The commands `python -m inrv_tf.generate` and `python -m inrv_tf.interpolate`
are these two functions. Sizes left None are the training size.
"""

from __future__ import annotations

import pathlib
from typing import Callable

import numpy as np

from inrv_tf import config as config_lib
from inrv_tf import files
from inrv_tf import workdir as workdir_lib
from inrv_tf.apps import sampling
from inrv_tf.data import pipeline
from inrv_tf.denoiser import denoising
from inrv_tf.model import render


def _output_size(config: config_lib.Config, s) -> tuple[int, int, int]:
  """(frames, height, width) of the settings, the training size where None; checked."""
  size = render.output_size(config.data, s.frames, s.height, s.width)
  render.check_size(*size, s.chunk_pixels)
  return size


def generate_videos(workdir, out, s: config_lib.GenerateSettings,
                    log: Callable[[str], None] = print) -> list[pathlib.Path]:
  """Samples codes, renders them and writes sample_NNN.mp4/.gif and codes.npy.

  Returns:
    The .mp4 paths, in sample order. The same seed gives the same videos.
  """
  config, model = workdir_lib.load_model(workdir)
  if s.denoise:
    denoising.cached_denoiser(workdir)   # No denoiser: fail before rendering anything.
  frames, height, width = _output_size(config, s)
  codes = sampling.sample_codes(sampling.learned_codes(model), s.num_samples, s.seed, s.mode)
  out = pathlib.Path(out)
  out.mkdir(parents=True, exist_ok=True)
  np.save(out / 'codes.npy', codes)
  paths = []
  for start in range(0, len(codes), s.batch_size):
    videos = render.render_codes(model, codes[start:start + s.batch_size], frames,
                                 height, width, s.chunk_pixels, s.batch_size)
    videos = denoising.maybe_denoise(videos, workdir, s.denoise)
    for i, video in enumerate(pipeline.to_uint8(videos).numpy(), start):
      for suffix in ('.mp4', '.gif'):
        files.write_video(out / f'sample_{i:03d}{suffix}', video, s.fps)
      paths.append(out / f'sample_{i:03d}.mp4')
  what = f'denoised {s.mode}' if s.denoise else s.mode
  log(f'Wrote {len(codes)} {what} samples of {frames} x {height} x {width} to {out}.')
  return paths


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
  row-major, near-square), step_00.mp4/.gif ... (step_00 is the first end,
  step_{K-1} the second) and codes.npy (f32[K, latent_dim]).
  """
  config, model = workdir_lib.load_model(workdir)
  frames, height, width = _output_size(config, s)
  z0, z1 = endpoint_codes(model, ids, paths)
  codes = sampling.interpolation_codes(z0, z1, s.steps)
  if codes.shape[1] != model.model_config.latent_dim:
    raise ValueError(f'Codes have {codes.shape[1]} numbers; this model\'s are '
                     f'{model.model_config.latent_dim}.')
  videos = pipeline.to_uint8(render.render_codes(
      model, codes, frames, height, width, s.chunk_pixels, s.batch_size)).numpy()
  out = pathlib.Path(out)
  out.mkdir(parents=True, exist_ok=True)
  np.save(out / 'codes.npy', codes)
  grid = render.tile_videos(videos)
  for suffix in ('.mp4', '.gif'):
    files.write_video(out / f'interpolation{suffix}', grid, s.fps)
    for i, video in enumerate(videos):
      files.write_video(out / f'step_{i:02d}{suffix}', video, s.fps)
  log(f'Wrote {s.steps} interpolated videos of {frames} x {height} x {width} and '
      f'their grid to {out}.')
