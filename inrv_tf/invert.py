"""Inverts videos into a trained video space, for the six tasks of paper Section 5.3.

    python -m inrv_tf.invert --workdir=/tmp/balls --task=inpainting --video=clip.mp4 --out=/tmp/inv
    python -m inrv_tf.invert --workdir=/tmp/balls --task=superresolution --dataset_ids=0,1 \
        --low_size=32 --high_size=128 --out=/tmp/sr

Tasks: inversion (all pixels), inpainting (top half of every frame),
frame_prediction (first 4 frames), frame_interpolation (first and last frame),
sparse_inpainting (25% of the pixels, by --seed), superresolution (all pixels
at --low_size, rendered at --high_size). The model is frozen; one code per
video is fitted with Adam (--lr=1e-2, --steps=500) from the mean of the
learned codes (--init). Writes, per video NAME (the file's stem, or
video_00012 for a dataset id): NAME_input, NAME_mask (the visible input, hidden
pixels black; not for superresolution), NAME_result (.mp4 and .gif),
NAME_code.npy, and metrics.json (PSNR, SSIM, Context-L1, steps, seconds per
video and their means; superresolution adds bicubic's PSNR/SSIM, and the
result's against bicubic; NAME_truth and NAME_bicubic are written too).
"""

from __future__ import annotations

import os
import sys

from absl import app
from absl import flags

FLAGS = flags.FLAGS
flags.DEFINE_string('workdir', None, 'A trained workdir (config.json + checkpoints/).')
flags.DEFINE_string('out', None, 'Folder for the videos, codes and metrics.json.')
flags.DEFINE_string('task', 'inversion', 'inversion, inpainting, frame_prediction, '
                    'frame_interpolation, sparse_inpainting or superresolution.')
flags.DEFINE_string('video', None, 'A video file (.mp4, .gif, .npy uint8[T, H, W, 3]).')
flags.DEFINE_list('dataset_ids', None, 'Ids of videos of the workdir\'s dataset split.')
flags.DEFINE_integer('steps', 500, 'Adam steps per batch.')
flags.DEFINE_float('lr', 1e-2, 'Adam learning rate (paper: 1e-2).')
flags.DEFINE_string('loss', 'l2', 'l2 (paper eq. 7, 8), l1 or weighted_l2.')
flags.DEFINE_string('init', 'mean', 'Start code: mean (of the learned codes), zeros, random.')
flags.DEFINE_integer('seed', 0, 'Seeds the sparse mask and the random init.')
flags.DEFINE_integer('size', None, 'Square size to invert at (default: training size).')
flags.DEFINE_integer('low_size', 32, 'superresolution: size the input is inverted at.')
flags.DEFINE_integer('high_size', 128, 'superresolution: size the result is rendered at.')
flags.DEFINE_integer('batch_size', 8, 'Videos inverted together.')
flags.DEFINE_integer('chunk_pixels', None, 'Pixels per INR pass (memory bound; '
                     'default render.DEFAULT_CHUNK_PIXELS = 32768).')
flags.DEFINE_integer('fps', 10, 'Frames per second of the written files.')
flags.DEFINE_bool('denoise', False, 'Also write NAME_denoised (the result through the '
                  'workdir\'s denoising VQ-VAE-2) and its scores as <metric>_denoised.')


def dataset_videos(config, ids, height: int, width: int) -> list:
  """Videos of the workdir's dataset by id: [(name, uint8[T, height, width, 3])]."""
  from inrv_tf.data import pipeline
  d = config.data
  builder = pipeline.get_builder(d.dataset, d.data_dir)
  pipeline.check_size(builder, d.frames, height, width)
  available = pipeline.num_examples(builder, d.split)
  out = []
  for raw in ids:
    try:
      i = int(raw)
    except ValueError:
      raise ValueError(f'--dataset_ids must be integers, got {raw!r}.') from None
    if not 0 <= i < available:
      raise ValueError(f'Video id {i} is out of range: split {d.split!r} of '
                       f'{builder.name!r} has {available} videos.')
    example = next(iter(builder.as_dataset(split=f'{d.split}[{i}:{i + 1}]')))
    video = pipeline.preprocess(example, d.frames, height, width)['video']
    out.append((f'video_{i:05d}', video.numpy()))
  return out


def load_inputs(config, video_path, ids, height, width) -> list:
  """[(name, f32[T, height, width, 3] in [-1, 1])] from --video or --dataset_ids."""
  import pathlib
  from inrv_tf.apps import inversion
  from inrv_tf import files
  if (video_path is None) == (ids is None):
    raise ValueError('Give exactly one of --video=FILE or --dataset_ids=A,B,...')
  if video_path is not None:
    raw = [(pathlib.Path(video_path).stem, files.read_video(video_path))]
  else:
    raw = dataset_videos(config, ids, height, width)
  return [(name, inversion.prepare_video(v, config.data.frames, height, width))
          for name, v in raw]


def load_superresolution_inputs(config, video_path, ids, low: int, high: int, log):
  """(names, low f32[N, T, low, low, 3], truth f32[N, T, high, high, 3] or None).

  The truth exists when the input is at least high x high: the low input is
  then its area downsampling (the usual protocol); otherwise the input itself
  is resized to low x low and only the comparison with bicubic is reported.
  """
  import numpy as np
  from inrv_tf.data import pipeline
  from inrv_tf.apps import inversion
  from inrv_tf import files
  try:
    if video_path is not None:
      shape = files.read_video(video_path).shape
      if min(shape[1:3]) < high:
        raise pipeline.DataError(f'{video_path} is {shape[1]} x {shape[2]}')
    inputs = load_inputs(config, video_path, ids, high, high)
    truth = np.stack([v for _, v in inputs])
    low_videos = inversion.resize_frames(truth, low, low, 'area')
  except pipeline.DataError as e:
    log(f'No {high} x {high} ground truth ({e}); inverting the input resized to '
        f'{low} x {low}.')
    inputs = load_inputs(config, video_path, ids, low, low)
    truth, low_videos = None, np.stack([v for _, v in inputs])
  return [name for name, _ in inputs], low_videos, truth


def _mean(values):
  values = [v for v in values if v is not None]
  return float(sum(values) / len(values)) if values else None


def masked_batch(model, task, videos, args, kwargs, log):
  """Inverts videos f32[B, T, H, W, 3] on a task's mask; (result, scores, files)."""
  import numpy as np
  from inrv_tf.apps import inversion
  from inrv_tf.model import render
  mask = inversion.make_mask(task, *videos.shape[1:4], seed=args['seed'])
  result = inversion.invert(model, videos, mask, log=log, **kwargs)
  full = render.render_codes(model, result.codes, *videos.shape[1:4],
                             args['chunk_pixels'])
  shown = np.where(mask[None, ..., None], videos, -1.0)   # Hidden pixels black.
  scores = inversion.score(full, videos, mask)
  files = {'input': videos, 'mask': shown, 'result': full}
  add_denoised(files, scores, args.get('denoiser'), videos, mask)
  return result, scores, files


def superresolution_batch(model, low, truth, args, kwargs, log):
  """Inverts low f32[B, T, l, l, 3], renders at high; (result, scores, files)."""
  import numpy as np
  from inrv_tf.apps import inversion
  from inrv_tf.model import render
  high_size = args['high_size']
  result, high = inversion.superresolve(model, low, high_size, high_size, log=log,
                                        **kwargs)
  low_render = render.render_codes(model, result.codes, *low.shape[1:4],
                                   args['chunk_pixels'])
  bicubic = np.clip(inversion.resize_frames(low, high_size, high_size, 'bicubic'),
                    -1.0, 1.0)
  scores = {'context_l1': [float(v) for v in inversion.context_l1(
      low_render, low, inversion.full_mask(*low.shape[1:4]))]}
  for key, value in inversion.score(high, bicubic).items():
    scores[f'{key}_vs_bicubic'] = value
  files = {'input': low, 'bicubic': bicubic, 'result': high}
  if truth is not None:
    scores.update(inversion.score(high, truth))
    for key, value in inversion.score(bicubic, truth).items():
      scores[f'bicubic_{key}'] = value
    files['truth'] = truth
  add_denoised(files, scores, args.get('denoiser'), truth)
  return result, scores, files


def add_denoised(files, scores, den, target, mask=None) -> None:
  """With a denoiser: files['denoised'] is the result through it, and its scores
  against `target` (if any) join `scores` as '<metric>_denoised'."""
  if den is None:
    return
  from inrv_tf.denoiser import denoising
  from inrv_tf.apps import inversion
  files['denoised'] = denoising.denoise_videos(den, files['result'])
  if target is not None:
    for key, value in inversion.score(files['denoised'], target, mask).items():
      scores[f'{key}_denoised'] = value


def write_batch(names, result, scores, files, out, fps) -> dict:
  """Writes each video's files and code; returns {name: metrics}."""
  import numpy as np
  from inrv_tf.data import pipeline
  from inrv_tf import files
  per_video = {}
  for i, name in enumerate(names):
    for kind, batch in files.items():
      video = pipeline.to_uint8(batch[i]).numpy()
      for suffix in ('.mp4', '.gif'):
        files.write_video(out / f'{name}_{kind}{suffix}', video, fps)
    np.save(out / f'{name}_code.npy', result.codes[i])
    per_video[name] = {key: values[i] for key, values in scores.items()}
    per_video[name].update(steps=result.steps, seconds=result.seconds / len(names),
                           final_loss=float(result.losses[-1, i]))
  return per_video


def invert_videos(workdir, out, task, video_path, ids, args, log=print) -> dict:
  """The command: loads the model and inputs, inverts in batches, writes metrics.json."""
  import pathlib
  import numpy as np
  from inrv_tf import workdir as workdir_lib
  from inrv_tf.denoiser import denoising
  from inrv_tf.apps import inversion
  from inrv_tf import files
  from inrv_tf.model import losses
  from inrv_tf.model import render
  inversion.check_task(task)
  if args['chunk_pixels'] is None:
    args = {**args, 'chunk_pixels': render.DEFAULT_CHUNK_PIXELS}
  losses.get(args['loss'])
  if args['init'] not in inversion.INITS:
    raise ValueError(f'Unknown init {args["init"]!r}; expected one of {inversion.INITS}.')
  config, model = workdir_lib.load_model(workdir)
  args = {**args, 'denoiser': denoising.load_denoiser(workdir) if args.get('denoise') else None}
  if task == 'superresolution':
    names, videos, truth = load_superresolution_inputs(
        config, video_path, ids, args['low_size'], args['high_size'], log)
  else:
    height = width = args['size']
    if args['size'] is None:
      height, width = config.data.height, config.data.width
    inputs = load_inputs(config, video_path, ids, height, width)
    names, videos, truth = [n for n, _ in inputs], np.stack([v for _, v in inputs]), None
  kwargs = {k: args[k] for k in ('steps', 'lr', 'loss', 'init', 'seed', 'chunk_pixels')}
  out = pathlib.Path(out)
  out.mkdir(parents=True, exist_ok=True)
  per_video, size = {}, args['batch_size']
  for start in range(0, len(names), size):
    part = slice(start, start + size)
    log(f'Inverting {", ".join(names[part])} ({task}, {args["steps"]} steps).')
    if task == 'superresolution':
      outcome = superresolution_batch(
          model, videos[part], None if truth is None else truth[part], args, kwargs, log)
    else:
      outcome = masked_batch(model, task, videos[part], args, kwargs, log)
    per_video.update(write_batch(names[part], *outcome, out, args['fps']))
  keys = sorted({k for m in per_video.values() for k in m})
  summary = {'task': task, 'workdir': str(workdir), 'frames': int(videos.shape[1]),
             'height': int(videos.shape[2]), 'width': int(videos.shape[3]),
             **{k: args[k] for k in ('steps', 'lr', 'loss', 'init', 'seed')},
             'videos': per_video,
             'mean': {k: _mean([m.get(k) for m in per_video.values()]) for k in keys}}
  if task == 'superresolution':
    summary.update(low_size=args['low_size'], high_size=args['high_size'])
  files.write_json(out / 'metrics.json', summary)
  mean = summary['mean']
  quality = f'PSNR {mean["psnr"]:.2f} dB, ' if mean.get('psnr') is not None else ''
  log(f'{task}: {quality}Context-L1 {mean["context_l1"]:.2f}, '
      f'{mean["seconds"]:.1f} s per video; wrote {out / "metrics.json"}.')
  return summary


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  from absl import logging
  logging.set_verbosity(logging.WARNING)
  from inrv_tf import files  # Light: the checks below fail fast, before TensorFlow loads.
  args = {name: getattr(FLAGS, name) for name in (
      'steps', 'lr', 'loss', 'init', 'seed', 'size', 'low_size', 'high_size',
      'batch_size', 'fps', 'denoise')}
  args['chunk_pixels'] = FLAGS.chunk_pixels
  try:
    for name in ('workdir', 'out'):
      if not getattr(FLAGS, name):
        raise ValueError(f'--{name} is required.')
    files.read_config(FLAGS.workdir)
    for name in ('batch_size', 'low_size', 'high_size', 'size'):
      if args[name] is not None and args[name] < 1:
        raise ValueError(f'--{name} must be positive, got {args[name]}.')
    if FLAGS.video is not None and not os.path.isfile(FLAGS.video):
      raise files.VideoFileError(f'No such video file: {FLAGS.video}')
    invert_videos(FLAGS.workdir, FLAGS.out, FLAGS.task, FLAGS.video,
                  FLAGS.dataset_ids, args)
  except (ValueError, FileNotFoundError) as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(1)


if __name__ == '__main__':
  app.run(main)
