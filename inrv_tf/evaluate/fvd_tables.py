"""Tables 2 and 4: FVD of random videos, under StyleGAN-V's `fvd2048_16f` protocol.

    table = fvd_table(config, model, builder, network, settings, log)          # Table 2
    table = fvd_table(..., sizes=[128, 256, 360])                              # Table 4

The protocol, as StyleGAN-V's `fvd2048_16f` (which the paper ran), pinned so
that two runs, and other people's, compare (docs/evaluation.md; every result
JSON stores it under settings.protocol):
- 2,048 generated videos (--num_samples): the official scheme, a random point
  on the slerp path between two random learned codes (`apps.sampling`),
  rendered at the training length and --size (128, the evaluation size), as
  uint8; their first --fvd_frames (16) frames.
- 2,048 real clips (--num_real): 16 consecutive frames at a seeded random
  offset in a seeded random training video (without replacement while there
  are enough videos), horizontally flipped at random with --mirror, resized to
  the same --size as the fakes, as uint8.
- Features: I3D's 400 logits averaged over time; covariances divide by N.
- FVD is the mean +- std (population std) over --fvd_runs independent draws
  (run r draws fakes and real clips with seed --seed + r): FVD varies run to run.
Real statistics are cached per draw (`fvd.cached_statistics`), keyed by the
dataset, split, protocol and network, so a second evaluation only embeds fakes.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from inrv_tf import config as config_lib
from inrv_tf.apps import sampling
from inrv_tf.denoiser import denoising
from inrv_tf.evaluate import fvd
from inrv_tf.evaluate import table as table_lib
from inrv_tf.model import metrics

PROTOCOL = 'fvd2048_16f'        # StyleGAN-V's name; the counts and frames are settings.


def protocol(s: config_lib.EvalSettings, size: int) -> dict:
  """What the numbers were computed under: stored in the JSON and in the cache key."""
  return {'name': PROTOCOL, 'num_fake': s.num_samples, 'num_real': s.num_real,
          'frames': s.fvd_frames, 'size': size, 'real_clips': 'random offset, seeded',
          'mirror': s.mirror, 'fake_sampling': 'slerp between two random learned codes',
          'features': 'I3D Kinetics-400 logits averaged over time (400)',
          'covariance': 'divided by N', 'runs': s.fvd_runs,
          'preprocessing': 'uint8 -> 224 x 224 (TF1 bilinear) -> [-1, 1]'}


def real_draws(num_videos: int, count: int, stored_frames: int, frames: int, seed: int,
               mirror: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Which real clips a run compares against: (ids, offsets, flips), each [count].

  Videos are drawn without replacement while count <= num_videos (else every
  video, then again); each clip starts at a uniform offset in
  [0, stored_frames - frames]; with `mirror`, half of them (at random) are flipped.
  """
  if frames > stored_frames:
    raise ValueError(f'FVD clips of {frames} frames need videos of at least {frames} '
                     f'frames; this dataset stores {stored_frames}.')
  rng = np.random.default_rng([seed, 2048])
  rounds = -(-count // num_videos)
  ids = np.concatenate([rng.permutation(num_videos) for _ in range(rounds)])[:count]
  offsets = rng.integers(0, stored_frames - frames + 1, count)
  flips = rng.random(count) < 0.5 if mirror else np.zeros(count, bool)
  return ids, offsets, flips


def resize_clips(clips, size: int) -> np.ndarray:
  """uint8[B, T, h, w, 3] -> uint8[B, T, size, size, 3] (bilinear, antialiased when smaller)."""
  clips = np.asarray(clips)
  if clips.shape[2:4] == (size, size):
    return clips
  b, t = clips.shape[:2]
  frames = tf.image.resize(clips.reshape(b * t, *clips.shape[2:]), [size, size],
                           method='bilinear', antialias=True)
  frames = tf.cast(tf.clip_by_value(tf.round(frames), 0, 255), tf.uint8).numpy()
  return frames.reshape(b, t, size, size, clips.shape[-1])


def real_clips(builder, split: str, draws, frames: int, size: int,
               batch_size: int) -> Iterator[np.ndarray]:
  """Yields the drawn clips as uint8[b, frames, size, size, 3], in order of video id.

  Each video is decoded once however many of its clips were drawn (the order
  does not change the statistics).
  """
  ids, offsets, flips = draws
  order = np.argsort(ids, kind='stable')
  wanted = tf.constant(np.unique(ids), tf.int64)
  feature = builder.info.features['video']
  ds = builder.as_dataset(split=f'{split}[:{int(ids.max()) + 1}]', shuffle_files=False,
                          decoders={'video': tfds.decode.SkipDecoding()})
  ds = ds.filter(lambda ex: tf.reduce_any(tf.equal(ex['video_id'], wanted)))
  ds = ds.map(lambda ex: (ex['video_id'], feature.decode_example(ex['video'])),
              num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  batch, position = [], 0
  for video_id, video in ds.prefetch(2):
    video = video.numpy()
    if video.shape[-1] == 1:
      video = np.repeat(video, 3, axis=-1)
    while position < len(order) and ids[order[position]] == int(video_id):
      i = order[position]
      clip = video[offsets[i]:offsets[i] + frames]
      batch.append(clip[:, :, ::-1] if flips[i] else clip)
      position += 1
      if len(batch) == batch_size:
        yield resize_clips(np.stack(batch), size)
        batch = []
  if batch:
    yield resize_clips(np.stack(batch), size)


def real_statistics(config, builder, network, size: int, s: config_lib.EvalSettings,
                    seed: int, log):
  """(mu, sigma) of I3D features of one draw of real clips at size x size, cached."""
  d, n = config.data, config.model.num_videos
  stored = builder.info.features['video'].shape[0]
  draws = real_draws(n, s.num_real, stored, s.fvd_frames, seed, s.mirror)
  key = {'dataset': builder.name, 'config': getattr(builder.builder_config, 'name', ''),
         'version': str(builder.info.version), 'split': d.split, 'of': n, 'seed': seed,
         'network': network.identity, **protocol(s, size)}
  key.pop('runs')             # One draw: the same whichever number of runs asked for it.
  key.pop('fake_sampling')
  key['num_fake'] = None

  def compute():
    clips = real_clips(builder, d.split, draws, s.fvd_frames, size, s.fvd_batch_size)
    return fvd.compute_features(network, clips, s.num_real,
                                f'{s.num_real} real clips at {size}', log)

  return fvd.cached_statistics(s.fvd_cache, key, compute, log)


def sample_fvd(config, model, builder, network, size: int, s: config_lib.EvalSettings, log,
               denoise=None) -> dict:
  """FVD of random samples at size x size over --fvd_runs draws: mean, std and each run.

  With `denoise` (a `denoising.Denoiser`) the samples pass through it first.
  """
  frames = config.data.frames
  sharpen = None if denoise is None else (lambda v: denoising.denoise_videos(denoise, v))
  learned = sampling.learned_codes(model)
  what = 'samples' if denoise is None else 'denoised samples'
  values = []
  for run in range(s.fvd_runs):
    seed = s.seed + run
    mu_r, sigma_r = real_statistics(config, builder, network, size, s, seed, log)
    codes = sampling.sample_codes(learned, s.num_samples, seed)

    def batches(codes=codes):
      for start in range(0, len(codes), s.fvd_batch_size):
        videos = table_lib.render_uint8(model, codes[start:start + s.fvd_batch_size],
                                        frames, size, size, s, sharpen)
        yield videos[:, :s.fvd_frames]

    features = fvd.compute_features(network, batches(), len(codes),
                                    f'{len(codes)} {what} at {size} (run {run + 1})', log)
    values.append(metrics.frechet_distance(*metrics.feature_statistics(features),
                                           mu_r, sigma_r))
  return {'fvd': float(np.mean(values)), 'fvd_std': float(np.std(values)), 'runs': values,
          'size': size}


def fvd_table(config, model, builder, network, s: config_lib.EvalSettings, log,
              sizes=None, denoise=None) -> table_lib.Table:
  """Table 2 (one size: --size, default --eval_size 128) or Table 4 (several, --sizes).

  With a denoiser (Table 2), a second row: the same samples passed through it.
  """
  if s.fvd_frames > config.data.frames:
    raise ValueError(f'FVD takes the first --fvd_frames={s.fvd_frames} frames of videos '
                     f'rendered at the training length, {config.data.frames} frames: '
                     f'pass --fvd_frames <= {config.data.frames}.')
  name = 'multires' if sizes else 'fvd'
  results = [sample_fvd(config, model, builder, network, size, s, log)
             for size in (sizes or [s.size or s.eval_size])]
  f = s.fvd_frames
  settings = {'num_samples': s.num_samples, 'fvd_frames': f, 'sampling': 'slerp',
              'network': network.identity, 'i3d': network.path,
              'protocol': protocol(s, results[0]['size']),
              'sizes': [{'size': r['size'], 'runs': r['runs']} for r in results]}
  if not sizes:
    r = results[0]
    rows = [{'method': 'INR-V', 'fvd': r['fvd'], 'fvd_std': r['fvd_std']}]
    if denoise is not None:
      d = sample_fvd(config, model, builder, network, r['size'], s, log, denoise)
      rows.append({'method': 'INR-V + denoising VQ-VAE-2', 'fvd': d['fvd'],
                   'fvd_std': d['fvd_std']})
      settings['denoiser_size'] = denoise.size
    return table_lib.Table(name, f'Table 2: FVD_{f} of {s.num_samples} random videos at '
                           f'{r["size"]} x {r["size"]} ({config.data.dataset}; mean +- std '
                           f'over {s.fvd_runs} runs)',
                           [('method', 'Method'), ('fvd', f'FVD_{f}'), ('fvd_std', '+-')],
                           rows, settings)
  columns = [('method', 'Method')]
  row = {'method': 'INR-V'}
  for r in results:
    columns += [(f'fvd_{r["size"]}', f'{r["size"]} x {r["size"]}'), (f'fvd_{r["size"]}_std', '+-')]
    row.update({f'fvd_{r["size"]}': r['fvd'], f'fvd_{r["size"]}_std': r['fvd_std']})
  return table_lib.Table(name, f'Table 4: FVD_{f} of {s.num_samples} random videos at '
                         f'several sizes ({config.data.dataset}; mean +- std over '
                         f'{s.fvd_runs} runs)', columns, [row], settings)
