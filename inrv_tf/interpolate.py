"""Slerp between two videos of a trained video space (paper Figure 6).

    python -m inrv_tf.interpolate --workdir=/tmp/balls --ids=0,1 --steps=8 --out=/tmp/walk
    python -m inrv_tf.interpolate --workdir=/tmp/balls --out=/tmp/walk \
        --codes=/tmp/inv/a_code.npy,/tmp/inv/b_code.npy     # codes written by invert

Writes to --out: interpolation.mp4/.gif, a grid video whose cells are the K
interpolated videos (row-major, near-square), step_00.mp4/.gif ... one file
per step (step_00 is the first video, step_{K-1} the second), and codes.npy
(f32[K, latent_dim]). Sizes default to the training size.
"""

from __future__ import annotations

import sys

from absl import app
from absl import flags

FLAGS = flags.FLAGS
flags.DEFINE_string('workdir', None, 'A trained workdir (config.json + checkpoints/).')
flags.DEFINE_string('out', None, 'Folder for the videos and codes.npy.')
flags.DEFINE_list('ids', None, 'Two training video ids, A,B.')
flags.DEFINE_list('codes', None, 'Two .npy codes (f32[latent_dim]), a.npy,b.npy.')
flags.DEFINE_integer('steps', 8, 'K videos on the path, both ends included (>= 2).')
flags.DEFINE_integer('frames', None, 'Frames per video (default: training).')
flags.DEFINE_integer('height', None, 'Height (default: training).')
flags.DEFINE_integer('width', None, 'Width (default: training).')
flags.DEFINE_integer('chunk_pixels', None, 'Pixels per INR pass (memory bound; '
                     'default render.DEFAULT_CHUNK_PIXELS = 32768).')
flags.DEFINE_integer('batch_size', 4, 'Videos rendered together.')
flags.DEFINE_integer('fps', 10, 'Frames per second of the written files.')


def endpoint_codes(model, ids=None, paths=None):
  """The two codes to walk between, from training ids or .npy files."""
  import numpy as np
  from inrv_tf.apps import sampling
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


def interpolate(workdir, out, ids, paths, steps, size, chunk_pixels, batch_size,
                fps, log=print):
  """Renders the slerp path and writes the grid, the steps and codes.npy."""
  import pathlib
  import numpy as np
  from inrv_tf import workdir as workdir_lib
  from inrv_tf.data import pipeline
  from inrv_tf import files
  from inrv_tf.model import render
  from inrv_tf.apps import sampling
  if chunk_pixels is None:
    chunk_pixels = render.DEFAULT_CHUNK_PIXELS
  config, model = workdir_lib.load_model(workdir)
  frames, height, width = render.output_size(config.data, *size)
  render.check_size(frames, height, width, chunk_pixels)
  z0, z1 = endpoint_codes(model, ids, paths)
  codes = sampling.interpolation_codes(z0, z1, steps)
  if codes.shape[1] != model.model_config.latent_dim:
    raise ValueError(f'Codes have {codes.shape[1]} numbers; this model\'s are '
                     f'{model.model_config.latent_dim}.')
  videos = pipeline.to_uint8(render.render_codes(
      model, codes, frames, height, width, chunk_pixels, batch_size)).numpy()
  out = pathlib.Path(out)
  out.mkdir(parents=True, exist_ok=True)
  np.save(out / 'codes.npy', codes)
  grid = render.tile_videos(videos)
  for suffix in ('.mp4', '.gif'):
    files.write_video(out / f'interpolation{suffix}', grid, fps)
    for i, video in enumerate(videos):
      files.write_video(out / f'step_{i:02d}{suffix}', video, fps)
  log(f'Wrote {steps} interpolated videos of {frames} x {height} x {width} and '
      f'their grid to {out}.')


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  from absl import logging
  logging.set_verbosity(logging.WARNING)
  from inrv_tf import files  # Light: the checks below fail fast, before TensorFlow loads.
  try:
    for name in ('workdir', 'out'):
      if not getattr(FLAGS, name):
        raise ValueError(f'--{name} is required.')
    files.read_config(FLAGS.workdir)
    interpolate(FLAGS.workdir, FLAGS.out, FLAGS.ids, FLAGS.codes, FLAGS.steps,
                (FLAGS.frames, FLAGS.height, FLAGS.width),
                FLAGS.chunk_pixels, FLAGS.batch_size,
                FLAGS.fps)
  except (ValueError, FileNotFoundError) as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(1)


if __name__ == '__main__':
  app.run(main)
