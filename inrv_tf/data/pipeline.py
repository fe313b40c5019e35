"""Input pipeline: TFDS dataset folders -> videos at the training size, in id order.

    builder = get_builder('bouncing_balls', data_dir)     # builds it on first use
    ds = eval_dataset(builder, data_config, num_videos=10, batch_size=2)   # uint8, id order
    video = to_float(resize_video(raw, frames, height, width))             # f32 in [-1, 1]

Training's batches (a seeded order, random access) are `data.batches`.

Datasets are the TFDS folders under the repository's `datasets/` (or the folder
named by $INRV_DATASETS_DIR, or a path given as the dataset name), optionally
with a builder config: 'moving_mnist/generated_5k_small'. Examples are
`{'video': uint8[T, H, W, C], 'video_id': int64}`; a one-channel video is served
as RGB. This module never imports the model.
"""

from __future__ import annotations

import importlib
import os
import pathlib
import sys

import tensorflow as tf
import tensorflow_datasets as tfds

from inrv_tf import config as config_lib


class DataError(ValueError):
  """A dataset that cannot be found, built, or cut to the requested size."""


def datasets_dir() -> pathlib.Path:
  env = os.environ.get('INRV_DATASETS_DIR')
  if env:
    return pathlib.Path(env)
  return pathlib.Path(__file__).resolve().parents[2] / 'datasets'


def available_datasets() -> list[str]:
  root = datasets_dir()
  if not root.is_dir():
    return []
  return sorted(p.name for p in root.iterdir()
                if (p / f'{p.name}_dataset_builder.py').is_file())


def _builder_folder(name: str) -> pathlib.Path:
  path = pathlib.Path(name)
  if path.is_dir() and (path / f'{path.name}_dataset_builder.py').is_file():
    return path.resolve()
  folder = datasets_dir() / name
  if (folder / f'{name}_dataset_builder.py').is_file():
    return folder
  raise DataError(f'Unknown dataset {name!r}: no TFDS dataset folder '
                  f'{folder}/{name}_dataset_builder.py. Known datasets: '
                  f'{", ".join(available_datasets()) or "none"}.')


def split_dataset(name: str) -> tuple[pathlib.Path, str | None]:
  """'NAME', 'PATH', 'NAME/CONFIG' or 'PATH/CONFIG' -> (dataset folder, config or None).

  A dataset folder's name or path, optionally followed by `/CONFIG`, a builder
  config name (TFDS's own `name/config` form): 'moving_mnist/generated_5k_small'.

  Raises:
    DataError: no dataset folder by that name or path.
  """
  try:
    return _builder_folder(name), None
  except DataError:
    head, _, config = name.rstrip('/').rpartition('/')
    if head and config:
      try:
        return _builder_folder(head), config
      except DataError:
        pass
    raise


def builder_module(folder: pathlib.Path):
  """Imports `<folder>/<name>_dataset_builder.py` as `tfds build` does.

  The folder's parent goes on sys.path and the folder is imported as a package,
  so its relative imports work (and its other modules import as `<name>.x`).
  """
  parent = str(folder.parent)
  if parent not in sys.path:
    sys.path.insert(0, parent)
  return importlib.import_module(f'{folder.name}.{folder.name}_dataset_builder')


def get_builder(name: str, data_dir: str | None = None, prepare: bool = True,
                config: str | None = None) -> tfds.core.DatasetBuilder:
  """Returns the TFDS builder of dataset `name` (see `split_dataset`), prepared.

  Args:
    name: a dataset folder's name or path, optionally with '/CONFIG'.
    data_dir: where TFDS keeps prepared data (None: TFDS's default).
    prepare: build the data if it is not there yet.
    config: a builder config name, if `name` carries none (None: the default).

  Raises:
    DataError: unknown name or config, or the data is not prepared and cannot
      be (e.g. a manual download is missing; the message says what to do).
  """
  folder, name_config = split_dataset(name)
  if config and name_config and config != name_config:
    raise DataError(f'Dataset {name!r} names config {name_config!r}, but config '
                    f'{config!r} was asked for.')
  config = config or name_config
  module = builder_module(folder)
  kwargs = {'data_dir': data_dir}
  if config:
    kwargs['config'] = config
  try:
    builder = module.Builder(**kwargs)
  except ValueError as e:  # TFDS: an unknown config name.
    if not config:
      raise
    raise DataError(f'Dataset {folder.name!r} has no config {config!r}: {e}') from e
  if prepare and not builder.is_prepared():
    try:
      builder.download_and_prepare()
    except Exception as e:  # TFDS raises several types; name the dataset.
      raise DataError(
          f'Dataset {folder.name!r} is not prepared in {builder.data_dir} and '
          f'could not be built: {e}\nBuild it with: tfds build {folder} '
          f'{f"--config={config} " if config else ""}'
          f'[--manual_dir=DIR] [--data_dir=DIR] (see README, Datasets).') from e
  return builder


def video_shape(builder) -> tuple:
  """(T, H, W, C) of the builder's stored videos (None where it varies)."""
  return tuple(builder.info.features['video'].shape)


def num_examples(builder, split: str = 'train') -> int:
  if split not in builder.info.splits:
    raise DataError(f'Dataset {builder.name!r} has no split {split!r}; it has '
                    f'{sorted(builder.info.splits)}.')
  return builder.info.splits[split].num_examples


def check_size(builder, frames: int, height: int, width: int) -> None:
  """Raises DataError if the stored videos cannot give this size (checked positive
  where it was configured)."""
  stored = video_shape(builder)
  for name, want, have in zip(('frames', 'height', 'width'), (frames, height, width),
                              stored[:3]):
    if have is not None and want > have:
      raise DataError(f'Dataset {builder.name!r} stores videos of shape '
                      f'{stored}: it cannot give {name}={want} (at most {have}).')


def resolve_num_videos(config: config_lib.Config, builder) -> config_lib.Config:
  """Sets model.num_videos (the latent table) from the dataset and --num_videos."""
  available = num_examples(builder, config.data.split)
  n = config.data.num_videos or available
  if n > available:
    raise DataError(f'--num_videos={n} but dataset {builder.name!r} has '
                    f'{available} videos in split {config.data.split!r}.')
  check_size(builder, config.data.frames, config.data.height, config.data.width)
  return config.replace(model={'num_videos': n})


def resize_video(video, frames: int, height: int, width: int) -> tf.Tensor:
  """First `frames` frames, area-resized (antialiased) to height x width, RGB.

  Args:
    video: uint8[T, H, W, C], C in {1, 3}, T >= frames.
  Returns:
    uint8[frames, height, width, 3].
  """
  video = tf.convert_to_tensor(video)
  tf.debugging.assert_greater_equal(
      tf.shape(video)[0], frames, message=f'video shorter than {frames} frames')
  video = video[:frames]
  if video.shape[-1] == 1:
    video = tf.tile(video, [1, 1, 1, 3])
  if video.shape[1] != height or video.shape[2] != width:
    video = tf.image.resize(tf.cast(video, tf.float32), [height, width],
                            method='area', antialias=True)
    video = tf.cast(tf.clip_by_value(tf.round(video), 0, 255), tf.uint8)
  return tf.ensure_shape(video, [frames, height, width, 3])


def to_float(video) -> tf.Tensor:
  """uint8 [0, 255] -> f32 [-1, 1]."""
  return tf.cast(video, tf.float32) / 127.5 - 1.0


def to_uint8(video) -> tf.Tensor:
  """f32 [-1, 1] (clipped) -> uint8 [0, 255], rounded."""
  video = tf.clip_by_value(tf.convert_to_tensor(video, tf.float32), -1.0, 1.0)
  return tf.cast(tf.round((video + 1.0) * 127.5), tf.uint8)


def preprocess(example, frames: int, height: int, width: int) -> dict:
  """TFDS example -> {'video': uint8[frames, height, width, 3], 'video_id': i32}."""
  return {'video': resize_video(example['video'], frames, height, width),
          'video_id': tf.cast(example['video_id'], tf.int32)}


def load_videos(builder, data: config_lib.DataConfig, num_videos: int,
                start: int = 0) -> tf.data.Dataset:
  """Videos start..num_videos - 1 of the split, in id order, resized, uint8."""
  ds = builder.as_dataset(split=f'{data.split}[{start}:{num_videos}]', shuffle_files=False)
  return ds.map(lambda ex: preprocess(ex, data.frames, data.height, data.width),
                num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def eval_dataset(builder, data: config_lib.DataConfig, num_videos: int,
                 batch_size: int) -> tf.data.Dataset:
  """The first `num_videos` videos once, in id order (uint8, no shuffle)."""
  check_size(builder, data.frames, data.height, data.width)
  return load_videos(builder, data, num_videos).batch(batch_size).prefetch(2)
