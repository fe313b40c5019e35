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

from absl import flags

from inrv_tf import cli
from inrv_tf import config as config_lib

FLAGS = flags.FLAGS
HELP = {
    'num_samples': 'Videos to generate.',
    'mode': 'slerp (official) or gaussian.',
    'seed': 'Sampling seed.',
    'frames': 'Frames per video (default: training).',
    'height': 'Height (default: training).',
    'width': 'Width (default: training).',
    'chunk_pixels': 'Pixels per INR pass (bounds memory; the output does not change).',
    'batch_size': 'Videos rendered together.',
    'fps': 'Frames per second of the written files.',
    'max_pixels': 'Pixel budget: videos x frames x height x width rendered or kept at once '
                  '(a request over it is refused before anything is loaded).',
    'denoise': 'Pass the frames through the workdir\'s denoising VQ-VAE-2 '
               '(python -m inrv_tf.denoise train; paper Section 4.2).',
}


def define_flags() -> None:
  flags.DEFINE_string('workdir', None, 'A trained workdir (config.json + checkpoints/).')
  flags.DEFINE_string('out', None, 'Folder for the videos and codes.npy.')
  cli.define_settings_flags(config_lib.GenerateSettings, HELP)


def main(argv):
  cli.no_arguments(argv)
  with cli.user_errors():
    cli.require('workdir', 'out')
    settings = cli.settings_from_flags(config_lib.GenerateSettings)
    from inrv_tf import files
    from inrv_tf import workdir as workdir_lib
    # A wrong --workdir, size or --out fails before TensorFlow loads.
    settings.check_budget(workdir_lib.read_config(FLAGS.workdir).data)
    files.check_writable_dir(FLAGS.out, '--out')
    from inrv_tf.apps import generation
    generation.generate_videos(FLAGS.workdir, FLAGS.out, settings)


if __name__ == '__main__':
  cli.run(main, define_flags)
