"""Your own videos as a dataset: a folder's clips, built once and reused (`train --videos`).

    config = use_videos(config, '/data/my_videos')    # builds or reuses; trains on it
    # config.data.dataset == 'video_folder/f25_s128_st1_3f2a0c9d81b7'

The clips are the `video_folder` TFDS dataset of datasets/ (its README says how
files are found, cut and skipped), with a builder config made of the clip
settings and a digest of the folder (`sources.folder_digest`: relative paths,
sizes and mtimes of the video files, no file is read). They are prepared under
the TFDS data dir as `video_folder/f<frames>_s<size>_st<stride>_<digest>/1.0.0`:
the same folder with the same settings finds them there; a changed folder
(a file added, removed, replaced or touched) gets a new digest and is built
again. The name goes into config.json, so a resume, `evaluate` and the other
commands open the same clips with `pipeline.get_builder`.
"""

from __future__ import annotations

import contextlib
import importlib
import os
from typing import Callable

from absl import logging
import tensorflow_datasets as tfds

from inrv_tf import config as config_lib
from inrv_tf.data import pipeline

DATASET = 'video_folder'
# Side of the stored clips unless training asks for more: the paper's 128 (and
# video_folder's default). Training cuts and resizes its own size from them.
STORED_SIZE = 128


def _modules():
  """(the builder module, its `sources` module), imported as `tfds build` does."""
  folder, _ = pipeline.split_dataset(DATASET)
  module = pipeline.builder_module(folder)
  return module, importlib.import_module(f'{folder.name}.sources')


@contextlib.contextmanager
def _errors_only():
  """Mutes absl warnings: TFDS's notes on a new config, and the builder's own list of
  skipped files, which `prepare` prints itself (with the files that ended early)."""
  verbosity = logging.get_verbosity()
  logging.set_verbosity(logging.ERROR)
  try:
    yield
  finally:
    logging.set_verbosity(verbosity)


def _files_report(meta) -> str:
  """The skipped and incomplete files of a build's metadata, one indented line each."""
  lines = [f'\n  {s["path"]}: {s["reason"]}' for s in meta['skipped']]
  lines += [f'\n  {s["path"]}: {s["reason"]}; kept {s["clips"]} clips'
            for s in meta['incomplete']]
  return ''.join(lines)


def folder_config(videos_dir: str, frames: int, size: int, stride: int = 1):
  """The builder config of a folder's clips, keyed by its files.

  Args:
    videos_dir: the folder of videos.
    frames, size, stride: the clip settings (`VideoFolderConfig`).

  Returns:
    (absolute folder, number of videos found, VideoFolderConfig with the
    folder's digest).

  Raises:
    DataError: no such folder, or no video file in it.
  """
  root = os.path.abspath(os.path.expanduser(videos_dir))
  if not os.path.isdir(root):
    what = 'is not a folder' if os.path.exists(root) else 'does not exist'
    raise pipeline.DataError(f'--videos={videos_dir}: {root} {what}.')
  module, sources = _modules()
  found = sources.list_sources(root)
  if not found:
    kinds = ', '.join(sources.VIDEO_EXTENSIONS + sources.GIF_EXTENSIONS)
    raise pipeline.DataError(
        f'--videos={videos_dir}: no video under {root} (looked for {kinds} files and '
        f'folders of {", ".join(sources.FRAME_EXTENSIONS)} frames, in any subfolder).')
  config = module.VideoFolderConfig(frames=frames, size=size, stride=stride,
                                    source_digest=sources.folder_digest(root, found))
  return root, len(found), config


def prepare(root: str, num_files: int, config, data_dir: str | None,
            log: Callable[[str], None] = print) -> tfds.core.DatasetBuilder:
  """Builds the clips of `root` under `config` unless they are there already.

  Returns:
    The prepared builder.
  Raises:
    DataError: no file gave a clip (the message lists every file and why).
  """
  module, _ = _modules()
  with _errors_only():
    builder = module.Builder(config=config, data_dir=data_dir)
    prepared = builder.is_prepared()
  if prepared:
    meta = builder.info.metadata
    log(f'Videos: reusing {builder.data_dir}, built from {root} as it is now '
        f'({meta["num_clips"]} clips from {len(meta["videos"])} of {meta["num_files"]} '
        f'files; {len(meta["skipped"])} skipped, listed in its metadata.json).')
    return builder
  log(f'Videos: building {config.frames}-frame clips of {config.size} x {config.size} '
      f'(stride {config.stride}) from {num_files} files under {root} into '
      f'{builder.data_dir} (once: later runs reuse it while the folder is unchanged).')
  try:
    with _errors_only():
      builder.download_and_prepare(
          download_config=tfds.download.DownloadConfig(manual_dir=root))
  except module.NoClipsError as e:
    raise pipeline.DataError(f'--videos={root}: {e}') from None
  meta = builder.info.metadata
  log(f'Videos: built {meta["num_clips"]} clips from {len(meta["videos"])} of '
      f'{meta["num_files"]} files; skipped {len(meta["skipped"])}, '
      f'{len(meta["incomplete"])} ended early{_files_report(meta) and ":"}'
      f'{_files_report(meta)}')
  return builder


def use_videos(config: config_lib.Config, videos_dir: str, stride: int = 1,
               saved_dataset: str | None = None,
               log: Callable[[str], None] = print) -> config_lib.Config:
  """Builds (or reuses) a folder's clips; returns `config` training on them.

  The clips have the training's frames and the larger of STORED_SIZE and the
  training size; `config.data.data_dir` says where they go.

  Args:
    config: the run's config (its data.dataset is replaced).
    videos_dir: the folder of videos.
    stride: keep every stride-th source frame.
    saved_dataset: the dataset a resumed workdir was trained on (None: a new
      run); another one is refused before anything is built.

  Raises:
    DataError: no folder, no video, no clip, or a workdir trained on other data.
  """
  d = config.data
  root, num_files, builder_config = folder_config(
      videos_dir, d.frames, max(STORED_SIZE, d.height, d.width), stride)
  dataset = f'{DATASET}/{builder_config.name}'
  if saved_dataset is not None and saved_dataset != dataset:
    changed = ('the folder or the clip settings changed since (frames, size, stride)'
               if saved_dataset.startswith(f'{DATASET}/') else 'another dataset')
    raise pipeline.DataError(
        f'--workdir was trained on {saved_dataset}; {root} now gives {dataset}: '
        f'{changed}. Train into a new --workdir (or restore the folder).')
  prepare(root, num_files, builder_config, d.data_dir, log)
  return config.replace(data={'dataset': dataset})
