"""Table 5: training videos rendered larger than they were trained, against bicubic.

    table = superres_table(config, model, builder, settings, log)

At each scale of --scales, the learned codes of a set of training videos are
rendered at scale x the training size and compared, as uint8, with the real
videos resized to that size; bicubic upsampling of the training-size videos
is the baseline.
"""

from __future__ import annotations

from inrv_tf import config as config_lib
from inrv_tf.apps import sampling
from inrv_tf.data import pipeline
from inrv_tf.evaluate import table as table_lib
from inrv_tf.model import metrics


def superres_table(config, model, builder, s: config_lib.EvalSettings, log) -> table_lib.Table:
  """Table 5: training videos rendered larger than trained, against bicubic."""
  d, n = config.data, config.model.num_videos
  targets = [(scale, int(round(scale * d.height)), int(round(scale * d.width)))
             for scale in s.scales]
  for scale, h, w in targets:         # Fail before any work if truth is missing.
    try:
      pipeline.check_size(builder, d.frames, h, w)
    except pipeline.DataError as e:
      raise pipeline.DataError(f'Scale {scale:g} needs {h} x {w} ground truth: {e}') from None
  ids = table_lib.pick_ids(n, s.num_videos or config_lib.EVAL_COUNTS['superres'], s.seed)
  codes = sampling.learned_codes(model)[ids]
  rows = [{'method': 'Bicubic'}, {'method': 'INR-V'}]
  columns = [('method', 'Method')]
  for scale, h, w in targets:
    quality = {'Bicubic': metrics.VideoQuality(), 'INR-V': metrics.VideoQuality()}
    low = table_lib.load_videos(builder, d.split, ids, d.frames, d.height, d.width, s.batch_size)
    high = table_lib.load_videos(builder, d.split, ids, d.frames, h, w, s.batch_size)
    offset = 0
    for small, truth in zip(low, high):
      quality['Bicubic'].add(table_lib.bicubic_uint8(small, h, w), truth)
      quality['INR-V'].add(table_lib.render_uint8(model, codes[offset:offset + len(truth)],
                                        d.frames, h, w, s), truth)
      offset += len(truth)
    label = f'{scale:g}x'
    for row in rows:
      q = dict(quality[row['method']].run())
      row.update({f'psnr_{label}': q['psnr'], f'ssim_{label}': table_lib.number(q['ssim'])})
    columns += [(f'psnr_{label}', f'{label} {h}x{w} PSNR'), (f'ssim_{label}', 'SSIM')]
    log(f'Superresolution {label}: {len(ids)} videos at {h} x {w}.')
  settings = {'ids': ids, 'num_videos': len(ids), 'frames': d.frames,
              'trained': [d.height, d.width],
              'targets': [{'scale': sc, 'height': h, 'width': w} for sc, h, w in targets]}
  return table_lib.Table('superres', f'Table 5: superresolution of {len(ids)} training videos '
               f'({d.dataset}, trained at {d.height} x {d.width})', columns, rows, settings)
