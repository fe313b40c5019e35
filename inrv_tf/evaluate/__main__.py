"""The paper's Tables 1, 2, 4, 5 and 6 as one command over a trained workdir.

    python -m inrv_tf.evaluate --workdir=W --table=reconstruction          # Table 1
    python -m inrv_tf.evaluate --workdir=W --table=fvd --i3d=DIR           # Table 2
    python -m inrv_tf.evaluate --workdir=W --table=multires --i3d=DIR      # Table 4
    python -m inrv_tf.evaluate --workdir=W --table=superres                # Table 5
    python -m inrv_tf.evaluate --workdir=W --table=inversion               # Table 6

Each prints the table as aligned text and writes it as JSON (--out, default
<workdir>/eval_<table>.json); see inrv_tf/evaluate/paper_tables.py and
docs/evaluation.md.
"""

from __future__ import annotations

from absl import flags

from inrv_tf import cli
from inrv_tf import config as config_lib

HELP = {
    'num_videos': 'Videos: comparison set (reconstruction, 50), training videos '
                  '(superres, 2048), held-out videos (inversion, 256).',
    'size': 'Square render size of any table (default: --eval_size for reconstruction '
            'and fvd, the training size for inversion).',
    'eval_size': 'reconstruction (Table 1): the side videos are rendered and compared at, '
                 '128 as in the paper (at most the dataset\'s stored side).',
    'batch_size': 'Videos rendered / fitted / inverted together.',
    'seed': 'Seeds the video choices, samples, masks and fits.',
    'chunk_pixels': 'Pixels per INR pass (memory bound).',
    'data_dir': 'TFDS data_dir (default: the workdir config\'s).',
    'full': 'reconstruction: also PSNR/SSIM over the whole training set.',
    'single_inr': 'reconstruction: fit the Single-INR baseline.',
    'single_inr_steps': 'Single-INR Adam steps.',
    'single_inr_lr': 'Single-INR Adam learning rate.',
    'i3d': 'The I3D Kinetics-400 SavedModel (fvd, multires); default: the one '
           '`python -m inrv_tf.fetch_i3d` wrote to ~/.cache/inrv_tf/i3d-kinetics-400.',
    'num_samples': 'Random videos for FVD.',
    'num_real': 'Real training videos for FVD (at most all).',
    'fvd_frames': 'Frames per video for FVD (FVD_16).',
    'fvd_batch_size': 'Videos per I3D batch.',
    'fvd_cache': 'Real-statistics cache (default <workdir>/fvd_cache).',
    'fvd_runs': 'FVD is the mean +- std over this many independent draws (fakes and real '
                'clips).',
    'mirror': 'fvd: flip half of the real clips horizontally (StyleGAN-V\'s --mirror, for '
              'datasets with few videos).',
    'sizes': 'multires: render sizes.',
    'scales': 'superres: scales of the training size.',
    'inversion_steps': 'Adam steps per inversion.',
    'heldout_split': 'inversion: split of held-out videos (default: the training split '
                     'after the trained videos).',
    'sr_low': 'inversion: superresolution input size.',
    'sr_high': 'inversion: superresolution output size.',
    'max_pixels': 'Pixel budget: videos x frames x height x width a table renders or keeps '
                  'at once (a request over it is refused before anything is loaded).',
    'denoise': 'fvd: add the row of INR-V + the workdir\'s denoising VQ-VAE-2 '
               '(python -m inrv_tf.denoise train), as Table 2 does.',
}


def define_flags(flag_values: flags.FlagValues = flags.FLAGS) -> None:
  """The command's flags: --workdir, --table, --out and one per EvalSettings field."""
  flags.DEFINE_string('workdir', None, 'A trained workdir (config.json + checkpoints/).',
                      flag_values=flag_values)
  flags.DEFINE_enum('table', None, list(config_lib.EVAL_TABLES), 'Which table to compute.',
                    flag_values=flag_values)
  flags.DEFINE_string('out', None, 'JSON output (default <workdir>/eval_<table>.json).',
                      flag_values=flag_values)
  cli.define_settings_flags(config_lib.EvalSettings, HELP, flag_values)


def settings_from_flags(flag_values: flags.FlagValues = flags.FLAGS) -> config_lib.EvalSettings:
  return cli.settings_from_flags(config_lib.EvalSettings, flag_values)


def main(argv):
  cli.no_arguments(argv)
  with cli.user_errors():
    cli.require('workdir', 'table')
    settings = settings_from_flags()
    from inrv_tf import workdir as workdir_lib
    # A wrong --workdir, table, size or --out fails before TensorFlow loads.
    workdir_lib.Workdir(flags.FLAGS.workdir).check_evaluation(
        flags.FLAGS.table, settings, flags.FLAGS.out)
    from inrv_tf.evaluate import paper_tables  # After the checks: it loads TensorFlow.
    paper_tables.evaluate(flags.FLAGS.workdir, flags.FLAGS.table, settings, flags.FLAGS.out)


if __name__ == '__main__':
  cli.run(main, define_flags)
