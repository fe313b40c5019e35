"""Tables 2 and 4: FVD of random videos, at one size or several.

    table = fvd_table(config, model, builder, network, settings, log)          # Table 2
    table = fvd_table(..., sizes=[128, 256, 360])                              # Table 4

Random videos follow the official scheme (a random point on the slerp path
between two random learned codes, `apps.sampling`), rendered as uint8; real
videos are training videos. Their I3D statistics are cached (`fvd`).
"""

from __future__ import annotations

from inrv_tf import config as config_lib
from inrv_tf.apps import sampling
from inrv_tf.denoiser import denoising
from inrv_tf.evaluate import fvd
from inrv_tf.evaluate import table as table_lib
from inrv_tf.model import metrics


def real_statistics(config, builder, network, size: int, s: config_lib.EvalSettings, log):
  """((mu, sigma), count) of I3D features of real training videos at size x size, cached."""
  d, n = config.data, config.model.num_videos
  ids = table_lib.pick_ids(n, s.num_real, s.seed)
  key = {'dataset': builder.name, 'config': getattr(builder.builder_config, 'name', ''),
         'version': str(builder.info.version), 'split': d.split, 'size': size,
         'frames': s.fvd_frames, 'count': len(ids), 'of': n, 'seed': s.seed,
         'network': network.identity}

  def compute():
    videos = table_lib.load_videos(builder, d.split, ids, s.fvd_frames, size, size, s.fvd_batch_size)
    return fvd.compute_features(network, videos, len(ids),
                                f'{len(ids)} real videos at {size}', log)

  return fvd.cached_statistics(s.fvd_cache, key, compute, log), len(ids)


def sample_fvd(config, model, builder, network, size: int, codes, s: config_lib.EvalSettings, log,
               denoise=None) -> dict:
  """FVD of random samples rendered at size x size, and what it was computed on.

  With `denoise` (a `denoising.Denoiser`) the samples pass through it first.
  """
  frames = config.data.frames
  stored = builder.info.features['video'].shape[1]
  real_size = min(size, stored) if stored else size
  (mu_r, sigma_r), num_real = real_statistics(config, builder, network, real_size, s, log)

  sharpen = None if denoise is None else (lambda v: denoising.denoise_videos(denoise, v))

  def batches():
    for start in range(0, len(codes), s.fvd_batch_size):
      videos = table_lib.render_uint8(model, codes[start:start + s.fvd_batch_size], frames,
                                      size, size, s, sharpen)
      yield videos[:, :s.fvd_frames]

  what = 'samples' if denoise is None else 'denoised samples'
  features = fvd.compute_features(network, batches(), len(codes),
                                  f'{len(codes)} {what} at {size}', log)
  mu, sigma = metrics.feature_statistics(features)
  return {'fvd': metrics.frechet_distance(mu, sigma, mu_r, sigma_r), 'size': size,
          'real_size': real_size, 'num_real': num_real}


def fvd_table(config, model, builder, network, s: config_lib.EvalSettings, log,
              sizes=None, denoise=None) -> table_lib.Table:
  """Table 2 (one size, --size, default 128) or Table 4 (several, --sizes).

  With a denoiser (Table 2), a second row: the same samples passed through it.
  """
  if s.fvd_frames > config.data.frames:
    raise ValueError(f'FVD takes the first --fvd_frames={s.fvd_frames} frames of videos '
                     f'rendered at the training length, {config.data.frames} frames: '
                     f'pass --fvd_frames <= {config.data.frames}.')
  codes = sampling.sample_codes(sampling.learned_codes(model), s.num_samples, s.seed)
  name = 'multires' if sizes else 'fvd'
  results = [sample_fvd(config, model, builder, network, size, codes, s, log)
             for size in (sizes or [s.size or s.eval_size])]
  f = s.fvd_frames
  settings = {'num_samples': s.num_samples, 'fvd_frames': f, 'sampling': 'slerp',
              'network': network.identity, 'i3d': network.path,
              'sizes': [{k: r[k] for k in ('size', 'real_size', 'num_real')} for r in results]}
  if not sizes:
    r = results[0]
    rows = [{'method': 'INR-V', 'fvd': r['fvd']}]
    if denoise is not None:
      d = sample_fvd(config, model, builder, network, r['size'], codes, s, log, denoise)
      rows.append({'method': 'INR-V + denoising VQ-VAE-2', 'fvd': d['fvd']})
      settings['denoiser_size'] = denoise.size
    return table_lib.Table(name, f'Table 2: FVD_{f} of {s.num_samples} random videos at '
                 f'{r["size"]} x {r["size"]} ({config.data.dataset})',
                 [('method', 'Method'), ('fvd', f'FVD_{f}')], rows, settings)
  columns = [('method', 'Method')] + [(f'fvd_{r["size"]}', f'{r["size"]} x {r["size"]}')
                                      for r in results]
  row = {'method': 'INR-V', **{f'fvd_{r["size"]}': r['fvd'] for r in results}}
  return table_lib.Table(name, f'Table 4: FVD_{f} of {s.num_samples} random videos at several '
               f'sizes ({config.data.dataset})', columns, [row], settings)
