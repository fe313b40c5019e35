"""Slerp between two videos of a trained video space (paper Figure 6).

    python -m inrv_tf.interpolate --workdir=/tmp/balls --ids=0,1 --steps=8 --out=/tmp/walk
    python -m inrv_tf.interpolate --workdir=/tmp/balls --out=/tmp/walk \
        --codes=/tmp/inv/a_code.npy,/tmp/inv/b_code.npy     # codes written by invert

Writes to --out: interpolation.mp4/.gif, a grid video whose cells are the K
interpolated videos (row-major, near-square: ceil(sqrt(K)) columns; the cells
past K repeat the second end, so no cell is empty), step_00.mp4/.gif ... one file
per step (step_00 is the first video, step_{K-1} the second), and codes.npy
(f32[K, latent_dim]). Sizes default to the training size.
"""

from __future__ import annotations

from absl import flags

from inrv_tf import cli
from inrv_tf import config as config_lib

FLAGS = flags.FLAGS
HELP = {
    'steps': 'K videos on the path, both ends included (>= 2).',
    'frames': 'Frames per video (default: training).',
    'height': 'Height (default: training).',
    'width': 'Width (default: training).',
    'chunk_pixels': 'Pixels per INR pass (bounds memory; the output does not change).',
    'batch_size': 'Videos rendered together.',
    'max_pixels': 'Pixel budget: videos x frames x height x width rendered or kept at once '
                  '(a request over it is refused before anything is loaded).',
    'fps': 'Frames per second of the written files.',
}


def define_flags() -> None:
  flags.DEFINE_string('workdir', None, 'A trained workdir (config.json + checkpoints/).')
  flags.DEFINE_string('out', None, 'Folder for the videos and codes.npy.')
  flags.DEFINE_list('ids', None, 'Two training video ids, A,B.')
  flags.DEFINE_list('codes', None, 'Two .npy codes (f32[latent_dim]), a.npy,b.npy.')
  cli.define_settings_flags(config_lib.InterpolateSettings, HELP)


def main(argv):
  cli.no_arguments(argv)
  with cli.user_errors():
    cli.require('workdir', 'out')
    settings = cli.settings_from_flags(config_lib.InterpolateSettings)
    from inrv_tf import files
    from inrv_tf import workdir as workdir_lib
    # A wrong --workdir, size or --out fails before TensorFlow loads.
    settings.check_budget(workdir_lib.read_config(FLAGS.workdir).data)
    files.check_writable_dir(FLAGS.out, '--out')
    from inrv_tf.apps import generation
    generation.interpolate_videos(FLAGS.workdir, FLAGS.out, settings, FLAGS.ids, FLAGS.codes)


if __name__ == '__main__':
  cli.run(main, define_flags)
