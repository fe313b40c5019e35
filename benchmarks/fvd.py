"""FVD's cost and the protocol's choices, measured with the real I3D.

    python benchmarks/fvd.py --videos=32                     # I3D throughput (random clips)
    python benchmarks/fvd.py --workdir=W --videos=256        # choices, on a trained model

Needs the network (`python -m inrv_tf.fetch_i3d`, or --i3d=DIR). Prints one
JSON line per figure:
- `i3d_throughput`: videos per second through I3D at --frames x 224 x 224
  (batch --batch_size), and the seconds per 1,000 videos.
- with --workdir, the protocol's differences against StyleGAN-V's port, each an
  FVD of --videos samples against --videos real clips (one draw, seed 0):
  `resize_tf1` (this project: TF1's bilinear resize to 224, as the original FVD),
  `resize_half_pixel` (half-pixel-centre bilinear, as PyTorch's
  `interpolate(mode='bilinear', align_corners=False)` in StyleGAN-V's port),
  `fakes_through_mp4` (the fakes written as .mp4 with libx264 and read back, as
  a pipeline that evaluates saved videos does).
"""

from __future__ import annotations

import json
import pathlib
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

import inrv_tf  # noqa: E402,F401  (before TensorFlow: turns oneDNN on)
from absl import app  # noqa: E402
from absl import flags  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string('i3d', None, 'The I3D SavedModel (default: fetch_i3d\'s folder).')
flags.DEFINE_string('workdir', None, 'A trained workdir: measure the protocol\'s choices.')
flags.DEFINE_integer('videos', 32, 'Videos per set.')
flags.DEFINE_integer('frames', 16, 'Frames per video.')
flags.DEFINE_integer('size', 128, 'Render and real-clip side before I3D\'s resize.')
flags.DEFINE_integer('batch_size', 16, 'Videos per I3D batch.')


def throughput(network) -> None:
  import numpy as np
  videos = np.random.default_rng(0).integers(0, 256, (FLAGS.batch_size, FLAGS.frames,
                                                      FLAGS.size, FLAGS.size, 3), np.uint8)
  network.embed(videos[:2])                                   # Traces and warms up.
  start, done = time.perf_counter(), 0
  while done < FLAGS.videos:
    network.embed(videos)
    done += len(videos)
  seconds = time.perf_counter() - start
  print(json.dumps({'benchmark': 'i3d_throughput', 'frames': FLAGS.frames,
                    'batch_size': FLAGS.batch_size, 'videos': done,
                    'videos_per_s': round(done / seconds, 3),
                    's_per_1000_videos': round(1000 * seconds / done, 1)}), flush=True)


def choices(network) -> None:
  """FVD of one draw under the project's protocol and under each alternative."""
  import numpy as np
  import tensorflow as tf
  from inrv_tf import config as config_lib
  from inrv_tf import files
  from inrv_tf import workdir as workdir_lib
  from inrv_tf.apps import sampling
  from inrv_tf.data import pipeline
  from inrv_tf.evaluate import fvd
  from inrv_tf.evaluate import fvd_tables
  from inrv_tf.evaluate import table as table_lib
  from inrv_tf.model import metrics
  config, model = workdir_lib.load_model(FLAGS.workdir)
  builder = pipeline.get_builder(config.data.dataset, config.data.data_dir)
  s = config_lib.EvalSettings(num_samples=FLAGS.videos, num_real=FLAGS.videos,
                              fvd_frames=FLAGS.frames, fvd_batch_size=FLAGS.batch_size)
  stored = builder.info.features['video'].shape[0]
  draws = fvd_tables.real_draws(config.model.num_videos, s.num_real, stored, s.fvd_frames,
                                0, False)
  real = np.concatenate(list(fvd_tables.real_clips(builder, config.data.split, draws,
                                                   s.fvd_frames, FLAGS.size, s.fvd_batch_size)))
  codes = sampling.sample_codes(sampling.learned_codes(model), s.num_samples, 0)
  fake = table_lib.render_uint8(model, codes, config.data.frames, FLAGS.size, FLAGS.size,
                                s)[:, :s.fvd_frames]

  def half_pixel(videos):
    videos = tf.convert_to_tensor(videos)
    b, t, h, w, c = videos.shape
    frames = tf.image.resize(tf.cast(tf.reshape(videos, [-1, h, w, c]), tf.float32),
                             [224, 224], method='bilinear')
    return tf.reshape(2.0 * frames / 255.0 - 1.0, [b, t, 224, 224, c])

  def features(videos, prepare):
    return np.concatenate([network(prepare(videos[i:i + s.fvd_batch_size]))
                           for i in range(0, len(videos), s.fvd_batch_size)])

  def distance(a, b):
    return metrics.frechet_distance(*metrics.feature_statistics(a),
                                    *metrics.feature_statistics(b))

  with tempfile.TemporaryDirectory() as tmp:
    through_mp4 = []
    for i, video in enumerate(fake):
      files.write_video(f'{tmp}/{i}.mp4', video, fps=25)
      through_mp4.append(files.read_video(f'{tmp}/{i}.mp4'))
    through_mp4 = np.stack(through_mp4)
  start = time.perf_counter()
  real_tf1 = features(real, fvd.preprocess)
  results = {'resize_tf1': distance(features(fake, fvd.preprocess), real_tf1),
             'resize_half_pixel': distance(features(fake, half_pixel),
                                           features(real, half_pixel)),
             'fakes_through_mp4': distance(features(through_mp4, fvd.preprocess), real_tf1)}
  print(json.dumps({'benchmark': 'fvd_choices', 'workdir': FLAGS.workdir,
                    'videos': FLAGS.videos, 'frames': FLAGS.frames, 'size': FLAGS.size,
                    **{k: round(v, 2) for k, v in results.items()},
                    'seconds': round(time.perf_counter() - start, 1)}), flush=True)


def main(argv):
  del argv
  from absl import logging
  from inrv_tf.evaluate import fvd
  logging.set_verbosity(logging.WARNING)
  network = fvd.load_feature_network(FLAGS.i3d)
  throughput(network)
  if FLAGS.workdir:
    choices(network)


if __name__ == '__main__':
  app.run(main)
