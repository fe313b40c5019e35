"""The training videos by id: held in memory when they fit, read at random otherwise.

    store = VideoStore(builder, data_config, num_videos=35_000)
    ds = store.read(index_batches)     # tf.data of int64[b] -> uint8[b, T, H, W, 3], int32[b]

Training asks for videos in a seeded random order (`data.order`), so every
read is a random access. Up to CACHE_BYTES of training-size videos are decoded
once into memory; a larger set is read example by example from the prepared
dataset's ArrayRecord files (TFDS's random-access format,
`builder.as_data_source()`), decoded and resized in parallel inside tf.data.
A dataset prepared as TFRecord (the `tfds build` default) is converted once,
in place, by TFDS's own converter: the log says so, with the size it adds.
Either way a video id reads the same video, so the order, and a resumed run,
do not depend on which path served it.
"""

from __future__ import annotations

import json
import pathlib
import time
from typing import Callable

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from inrv_tf import config as config_lib
from inrv_tf.data import pipeline

# Keep decoded training videos in memory when they fit in this many bytes.
CACHE_BYTES = 4 * 2**30
ARRAY_RECORD = 'array_record'


def random_access_source(builder, split: str, log: Callable[[str], None] = print,
                         convert: bool = True):
  """The split's serialized examples by index (TFDS's ArrayRecord data source).

  Converts a TFRecord-only dataset to ArrayRecord first (next to it, once), or,
  with convert=False, waits for another process (a multi-worker run's chief)
  to do it.
  """
  directory = pathlib.Path(builder.data_dir)
  if ARRAY_RECORD not in _formats(directory):
    if convert:
      _convert(builder, directory, log)
    else:
      log(f'Waiting for the chief to convert {directory} to ArrayRecord...')
      while ARRAY_RECORD not in _formats(directory):
        time.sleep(10)
  reader = tfds.builder_from_directory(str(directory))
  return reader.as_data_source(split=split, file_format=ARRAY_RECORD,
                               deserialize_method=tfds.decode.DeserializeMethod.RAW_BYTES)


def _formats(directory: pathlib.Path) -> set[str]:
  info = json.loads((directory / 'dataset_info.json').read_text())
  return {info.get('fileFormat', 'tfrecord'), *info.get('alternativeFileFormats', [])}


def _convert(builder, directory: pathlib.Path, log) -> None:
  from tensorflow_datasets.scripts.cli import convert_format_utils
  size = sum(f.stat().st_size for f in directory.iterdir() if '.tfrecord' in f.name)
  log(f'Dataset {builder.name!r} is prepared as TFRecord, which cannot be read in a random '
      f'order. Converting it once to ArrayRecord next to it, in {directory} (one pass over '
      f'the data, about {size / 2**30:.2f} GiB more disk); later runs reuse it.')
  start = time.perf_counter()
  convert_format_utils.convert_dataset(out_dir=None, out_file_format=ARRAY_RECORD,
                                       dataset_version_dir=str(directory), num_workers=1)
  if ARRAY_RECORD not in _formats(directory):
    raise pipeline.DataError(f'Converting {directory} to ArrayRecord did not complete; '
                             f'run again, or build it so: tfds build ... --file_format=array_record')
  log(f'Converted in {time.perf_counter() - start:.0f} s.')


class VideoStore:
  """Training-size uint8 videos of ids 0..num_videos - 1, by id.

  Args:
    builder: the prepared TFDS builder; data: the run's DataConfig (split, size).
    num_videos: how many of the split's videos training may ask for.
    cache_bytes: the in-memory limit (None: CACHE_BYTES, read when called).
    convert: whether this process may convert the dataset to ArrayRecord.
  """

  def __init__(self, builder, data: config_lib.DataConfig, num_videos: int,
               cache_bytes: int | None = None, log: Callable[[str], None] = print,
               convert: bool = True):
    self.shape = (data.frames, data.height, data.width, 3)
    self.num_videos = num_videos
    self._size = (data.frames, data.height, data.width)
    limit = CACHE_BYTES if cache_bytes is None else cache_bytes
    self.in_memory = num_videos * int(np.prod(self.shape)) <= limit
    if self.in_memory:
      self._videos = self._load_all(builder, data)
    else:
      self._source = random_access_source(builder, data.split, log, convert)
      self._decode = builder.info.features.deserialize_example

  def _load_all(self, builder, data) -> np.ndarray:
    """Every video decoded once, in id order: uint8[N, T, H, W, 3]."""
    videos = np.empty((self.num_videos,) + self.shape, np.uint8)
    done = 0
    for batch in pipeline.load_videos(builder, data, self.num_videos).batch(64):
      ids = batch['video_id'].numpy()
      if not np.array_equal(ids, np.arange(done, done + len(ids))):
        raise pipeline.DataError(f'Dataset {builder.name!r} does not hold video ids in '
                                 f'order (got {ids[:5]} at position {done}).')
      videos[done:done + len(ids)] = batch['video'].numpy()
      done += len(ids)
    return videos

  def read(self, index_batches: tf.data.Dataset) -> tf.data.Dataset:
    """Batches of ids int64[b] -> {'video': uint8[b, T, H, W, 3], 'video_id': int32[b]}."""
    if self.in_memory:
      def gather(ids):
        videos = tf.numpy_function(lambda i: self._videos[i], [ids], tf.uint8, stateful=False)
        return {'video': tf.ensure_shape(videos, (None,) + self.shape),
                'video_id': tf.cast(ids, tf.int32)}
      return index_batches.map(gather)
    per_batch = index_batches.element_spec.shape[0]
    examples = index_batches.unbatch().map(
        lambda i: (tf.numpy_function(lambda j: self._source[int(j)], [i], tf.string,
                                     stateful=False), i))
    return examples.map(self._decode_one, num_parallel_calls=tf.data.AUTOTUNE,
                        deterministic=True).batch(per_batch)

  def _decode_one(self, serialized, video_id) -> dict:
    """One serialized example -> the training-size video, checked to be `video_id`."""
    example = self._decode(tf.ensure_shape(serialized, []))
    with tf.control_dependencies([tf.debugging.assert_equal(
        example['video_id'], video_id, message='An ArrayRecord index is not its video id')]):
      return pipeline.preprocess(example, *self._size)
