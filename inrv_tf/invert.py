"""Inverts videos into a trained video space, for the six tasks of paper Section 5.3.

    python -m inrv_tf.invert --workdir=/tmp/balls --task=inpainting --video=clip.mp4 --out=/tmp/inv
    python -m inrv_tf.invert --workdir=/tmp/balls --task=superresolution --dataset_ids=0,1 \
        --low_size=32 --high_size=128 --out=/tmp/sr

Tasks: inversion (all pixels), inpainting (top half of every frame),
frame_prediction (first 4 frames), frame_interpolation (first and last frame),
sparse_inpainting (25% of the pixels, by --seed), superresolution (all pixels
at --low_size, rendered at --high_size). The model is frozen; one code per
video is fitted with Adam from the mean of the learned codes (--init). What is
written: inrv_tf/apps/video_inversion.py.
"""

from __future__ import annotations

import os

from absl import flags

from inrv_tf import cli
from inrv_tf import config as config_lib

FLAGS = flags.FLAGS
HELP = {
    'task': 'inversion, inpainting, frame_prediction, frame_interpolation, '
            'sparse_inpainting or superresolution.',
    'steps': 'Adam steps per batch.',
    'lr': 'Adam learning rate (paper: 1e-2).',
    'loss': 'l2 (paper eq. 7, 8), l1 or weighted_l2.',
    'init': 'Start code: mean (of the learned codes), zeros, random.',
    'seed': 'Seeds the sparse mask and the random init.',
    'size': 'Square size to invert at (default: training size).',
    'low_size': 'superresolution: size the input is inverted at.',
    'high_size': 'superresolution: size the result is rendered at.',
    'batch_size': 'Videos inverted together.',
    'chunk_pixels': 'Pixels per INR pass (bounds memory; the output does not change).',
    'fps': 'Frames per second of the written files.',
    'max_pixels': 'Pixel budget: videos x frames x height x width rendered or kept at once '
                  '(a request over it is refused before anything is loaded).',
    'denoise': 'Also write NAME_denoised (the result through the workdir\'s denoising '
               'VQ-VAE-2) and its scores as <metric>_denoised.',
}


def define_flags() -> None:
  flags.DEFINE_string('workdir', None, 'A trained workdir (config.json + checkpoints/).')
  flags.DEFINE_string('out', None, 'Folder for the videos, codes and metrics.json.')
  flags.DEFINE_string('video', None, 'A video file (.mp4, .gif, .npy uint8[T, H, W, 3]).')
  flags.DEFINE_list('dataset_ids', None, 'Ids of videos of the workdir\'s dataset split.')
  cli.define_settings_flags(config_lib.InversionSettings, HELP)


def main(argv):
  cli.no_arguments(argv)
  with cli.user_errors():
    cli.require('workdir', 'out')
    settings = cli.settings_from_flags(config_lib.InversionSettings)
    from inrv_tf import files
    from inrv_tf import workdir as workdir_lib
    # A wrong --workdir, size, --video or --out fails before TensorFlow loads.
    settings.check_budget(workdir_lib.read_config(FLAGS.workdir).data,
                          1 if FLAGS.dataset_ids is None else len(FLAGS.dataset_ids))
    if FLAGS.video is not None and not os.path.isfile(FLAGS.video):
      raise files.VideoFileError(f'No such video file: {FLAGS.video}')
    files.check_writable_dir(FLAGS.out, '--out')
    from inrv_tf.apps import video_inversion
    video_inversion.invert_videos(FLAGS.workdir, FLAGS.out, settings, FLAGS.video,
                                  FLAGS.dataset_ids)


if __name__ == '__main__':
  cli.run(main, define_flags)
