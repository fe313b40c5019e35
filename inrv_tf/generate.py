"""Random videos from a trained video space.

    python -m inrv_tf.generate --workdir=/tmp/balls --num_samples=8 --out=/tmp/samples
    python -m inrv_tf.generate --workdir=/tmp/balls --mode=gaussian --seed=3 \
        --frames=50 --height=256 --width=256 --out=/tmp/big

--mode=slerp (the official scheme: a random point on the slerp path between two
random learned codes) or gaussian (a Gaussian fitted to the learned codes).
Writes sample_000.mp4/.gif, ... and codes.npy (f32[N, latent_dim]) to --out;
the same --seed gives the same videos. Sizes default to the training size.
"""

from __future__ import annotations

import sys

from absl import app
from absl import flags

FLAGS = flags.FLAGS
flags.DEFINE_string('workdir', None, 'A trained workdir (config.json + checkpoints/).')
flags.DEFINE_string('out', None, 'Folder for the videos and codes.npy.')
flags.DEFINE_integer('num_samples', 8, 'Videos to generate.')
flags.DEFINE_string('mode', 'slerp', 'slerp (official) or gaussian.')
flags.DEFINE_integer('seed', 0, 'Sampling seed.')
flags.DEFINE_integer('frames', None, 'Frames per video (default: training).')
flags.DEFINE_integer('height', None, 'Height (default: training).')
flags.DEFINE_integer('width', None, 'Width (default: training).')
flags.DEFINE_integer('chunk_pixels', None, 'Pixels per INR pass (memory bound; '
                     'default render.DEFAULT_CHUNK_PIXELS = 32768).')
flags.DEFINE_integer('batch_size', 4, 'Videos rendered together.')
flags.DEFINE_integer('fps', 10, 'Frames per second of the written files.')
flags.DEFINE_bool('denoise', False, 'Pass the frames through the workdir\'s denoising '
                  'VQ-VAE-2 (python -m inrv_tf.denoise train; paper Section 4.2).')


def generate(workdir, out, num_samples, mode, seed, size, chunk_pixels,
             batch_size, fps, log=print, denoise: bool = False) -> list:
  """Samples codes, renders them and writes the files; returns the video paths."""
  import pathlib
  import numpy as np
  from inrv_tf import workdir as workdir_lib
  from inrv_tf.data import pipeline
  from inrv_tf.denoiser import denoising
  from inrv_tf import files
  from inrv_tf.model import render
  from inrv_tf.apps import sampling
  if chunk_pixels is None:
    chunk_pixels = render.DEFAULT_CHUNK_PIXELS
  config, model = workdir_lib.load_model(workdir)
  if denoise:
    denoising.cached_denoiser(workdir)   # No denoiser: fail before rendering anything.
  frames, height, width = render.output_size(config.data, *size)
  render.check_size(frames, height, width, chunk_pixels)
  codes = sampling.sample_codes(sampling.learned_codes(model), num_samples, seed, mode)
  out = pathlib.Path(out)
  out.mkdir(parents=True, exist_ok=True)
  np.save(out / 'codes.npy', codes)
  paths = []
  for start in range(0, len(codes), batch_size):
    videos = render.render_codes(model, codes[start:start + batch_size], frames,
                                 height, width, chunk_pixels, batch_size)
    videos = denoising.maybe_denoise(videos, workdir, denoise)
    for i, video in enumerate(pipeline.to_uint8(videos).numpy(), start):
      for suffix in ('.mp4', '.gif'):
        files.write_video(out / f'sample_{i:03d}{suffix}', video, fps)
      paths.append(out / f'sample_{i:03d}.mp4')
  what = f'denoised {mode}' if denoise else mode
  log(f'Wrote {len(codes)} {what} samples of {frames} x {height} x {width} to {out}.')
  return paths


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
    generate(FLAGS.workdir, FLAGS.out, FLAGS.num_samples, FLAGS.mode, FLAGS.seed,
             (FLAGS.frames, FLAGS.height, FLAGS.width),
             FLAGS.chunk_pixels, FLAGS.batch_size,
             FLAGS.fps, denoise=FLAGS.denoise)
  except (ValueError, FileNotFoundError) as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(1)


if __name__ == '__main__':
  app.run(main)
