"""video_folder: fixed-size clips of every video in a folder of your own footage.

The user points the build at a folder (the manual dir) holding videos, found
recursively: .mp4, .mov, .avi, .mkv, .webm, .gif files and folders of numbered
.png/.jpg frames (`sources.list_sources`). Each video is cut into consecutive,
non-overlapping clips of `frames * stride` source frames, of which every
`stride`-th one is kept; each kept frame is centre-cropped to a square and
resized to `size` x `size` (`sources.iter_clips`).

Each example is `video`: uint8[frames, size, size, 3] (RGB, stored as PNG
frames) and `video_id`: int64. Ids are 0..N-1 in sorted-path order, then clip
index, stored in id order in one `train` split.

Bad files never stop a build: they are skipped, logged one line each and
listed in the dataset's `metadata.json` (`report.summarize`); a build in which
no file gives a clip fails with `report.NoClipsError`, which lists every file
and its reason. The build runs in-process, or, when the download config carries
Beam options or a runner, as an Apache Beam pipeline that decodes one file per
work item (`beam.examples`).

The folder's modules: `sources` (finding, digesting and decoding videos),
`report` (the per-file summary), `beam` (the Beam pipeline) and this builder.

  tfds build datasets/video_folder --manual_dir=DIR
  tfds build datasets/video_folder --manual_dir=DIR \
      --config='{"frames": 16, "size": 64, "stride": 2}'
  tfds build datasets/video_folder --manual_dir=DIR --config=f16_s64_st2
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import signal
import threading
from typing import Any

from absl import logging
from etils import epath
import numpy as np
import tensorflow_datasets as tfds

from . import beam as beam_lib
from . import report as report_lib
from . import sources as sources_lib

NoClipsError = report_lib.NoClipsError
# Subfolder of TFDS's default manual dir used when no --manual_dir is given.
DEFAULT_MANUAL_SUBDIR = 'video_folder'
_TAG_PATTERN = re.compile(r'^[a-z0-9][a-z0-9_-]*$')
_DIGEST_PATTERN = re.compile(rf'^[0-9a-f]{{{sources_lib.DIGEST_LENGTH}}}$')
# A tag may not end as a digest does, so that a name reads back one way.
_DIGEST_END = re.compile(rf'(^|_)[0-9a-f]{{{sources_lib.DIGEST_LENGTH}}}$')
_NAME_PATTERN = re.compile(
    r'^f(?P<frames>\d+)_s(?P<size>\d+)_st(?P<stride>\d+)(?:_(?P<rest>.+))?$'
)


def _check_int(name: str, value: Any, minimum: int):
  if isinstance(value, bool) or not isinstance(value, int):
    raise ValueError(f'{name} must be an int, got {value!r}')
  if value < minimum:
    raise ValueError(f'{name} must be >= {minimum}, got {value}')


def config_name(
    frames: int, size: int, stride: int, tag: str = '', source_digest: str = ''
) -> str:
  """The config (and folder) name of these settings, e.g. 'f25_s128_st1'."""
  parts = [f'f{frames}_s{size}_st{stride}', tag, source_digest]
  return '_'.join(p for p in parts if p)


@dataclasses.dataclass(eq=False)
class VideoFolderConfig(tfds.core.BuilderConfig):
  """Clip settings; the name is derived from them, so is the data folder.

  Attributes:
    name: leave empty: set to `config_name(...)`, e.g. 'f25_s128_st1' or
      'f25_s128_st1_3f2a0c9d81b7' with a digest. A given name must equal that.
    frames: T, frames per clip.
    size: side of the square output frames, in pixels.
    stride: keep every stride-th source frame (a clip spans frames * stride
      source frames).
    tag: optional label (lower-case letters, digits, '_' and '-', not ending
      in 12 hex digits) appended to the name, so that clips of two different
      folders with the same settings can live in one data_dir
      ('f25_s128_st1_holiday').
    source_digest: optional `sources.folder_digest` of the folder (12 hex
      digits), appended to the name: the data folder is then keyed by the
      folder's contents, and the build refuses a folder with another digest.
  """

  name: str = ''
  frames: int = 25
  size: int = 128
  stride: int = 1
  tag: str = ''
  source_digest: str = ''

  def __post_init__(self):
    _check_int('frames', self.frames, 1)
    _check_int('size', self.size, 1)
    _check_int('stride', self.stride, 1)
    if not isinstance(self.tag, str) or (self.tag and (
        not _TAG_PATTERN.match(self.tag) or _DIGEST_END.search(self.tag))):
      raise ValueError(
          f'tag must be empty or match {_TAG_PATTERN.pattern} and not end in'
          f' {sources_lib.DIGEST_LENGTH} hex digits, got {self.tag!r}'
      )
    if not isinstance(self.source_digest, str) or (
        self.source_digest and not _DIGEST_PATTERN.match(self.source_digest)):
      raise ValueError(
          f'source_digest must be empty or {sources_lib.DIGEST_LENGTH}'
          f' lower-case hex digits, got {self.source_digest!r}'
      )
    expected = config_name(
        self.frames, self.size, self.stride, self.tag, self.source_digest
    )
    if not self.name:
      self.name = expected
    elif self.name != expected:
      raise ValueError(
          f'VideoFolderConfig name {self.name!r} does not match its settings:'
          f' leave it empty or use {expected!r} (other settings must never'
          ' share a data folder).'
      )
    if self.description is None:
      self.description = (
          f'{self.frames}-frame clips of {self.size} x {self.size} pixels,'
          f' stride {self.stride}'
          + (f', tagged {self.tag!r}' if self.tag else '')
          + (f', of the folder {self.source_digest}' if self.source_digest
             else '')
          + '.'
      )

  @classmethod
  def from_name(cls, name: str) -> VideoFolderConfig:
    """The config named `name` ('f16_s64_st2', 'f25_s128_st1_beach_<digest>').

    Raises:
      ValueError: not a name that `config_name` makes.
    """
    match = _NAME_PATTERN.match(name)
    if not match:
      raise ValueError(
          f'{name!r} is not a video_folder config name: expected'
          ' f<frames>_s<size>_st<stride>[_<tag>][_<digest>], e.g. f25_s128_st1'
      )
    rest, tag, digest = match.group('rest') or '', '', ''
    if _DIGEST_PATTERN.match(rest.rpartition('_')[2]):
      tag, _, digest = rest.rpartition('_')
    else:
      tag = rest
    return cls(frames=int(match.group('frames')), size=int(match.group('size')),
               stride=int(match.group('stride')), tag=tag, source_digest=digest)


@contextlib.contextmanager
def _sigterm_as_exit():
  """Turns SIGTERM into SystemExit, so TFDS's cleanup (`finally`) runs.

  Python's default SIGTERM action ends the process at once and would leave
  TFDS's `incomplete.*` folder behind. Only in the main thread.
  """
  if threading.current_thread() is not threading.main_thread():
    yield
    return

  def _raise(signum, frame):
    del frame
    raise SystemExit(128 + signum)

  try:
    previous = signal.signal(signal.SIGTERM, _raise)
  except (ValueError, OSError):  # No signals here (e.g. some embedded runs).
    yield
    return
  try:
    yield
  finally:
    signal.signal(signal.SIGTERM, previous)


class Builder(tfds.core.GeneratorBasedBuilder):
  """DatasetBuilder for video_folder (see the module docstring)."""

  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': 'Initial release.'}
  BUILDER_CONFIGS = [VideoFolderConfig()]  # f25_s128_st1
  DEFAULT_BUILDER_CONFIG_NAME = config_name(25, 128, 1)
  MANUAL_DOWNLOAD_INSTRUCTIONS = f"""\
Put your videos ({', '.join(sources_lib.VIDEO_EXTENSIONS
                            + sources_lib.GIF_EXTENSIONS)}, or folders of
numbered {', '.join(sources_lib.FRAME_EXTENSIONS)} frames) in a folder, in any
subfolders, and pass it with `tfds build datasets/video_folder --manual_dir=DIR`
(or train on it at once: `python -m inrv_tf.train --videos=DIR ...`). Without
--manual_dir the build reads the `{DEFAULT_MANUAL_SUBDIR}` subfolder of TFDS's
manual folder, ~/tensorflow_datasets/downloads/manual/{DEFAULT_MANUAL_SUBDIR}/
(that folder is shared with other datasets).
"""

  def __init__(self, *, config=None, **kwargs):
    # A name that is not a class config ('f16_s64_st2', as in
    # `tfds build ... --config=f16_s64_st2` or 'video_folder/f16_s64_st2')
    # stands for the settings it spells.
    if isinstance(config, str) and ':' not in config and (
        config not in type(self).builder_configs):
      config = VideoFolderConfig.from_name(config)
    # TFDS rejects a config object that is not the class's own but carries
    # one of its names. Same name means same settings here: use the class's
    # object (e.g. for VideoFolderConfig() or --config='{}').
    if isinstance(config, tfds.core.BuilderConfig):
      for known in self.BUILDER_CONFIGS:
        if known.name == config.name and all(
            getattr(config, field, None) == getattr(known, field)
            for field in ('frames', 'size', 'stride', 'tag', 'source_digest')
        ):
          config = known
    super().__init__(config=config, **kwargs)

  def _info(self) -> tfds.core.DatasetInfo:
    config = self.builder_config
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict({
            'video': tfds.features.Video(
                shape=(config.frames, config.size, config.size, 3),
                dtype=np.uint8,
            ),
            'video_id': np.int64,
        }),
        # Filled in by the build: source_dir, source_digest, num_clips,
        # videos, skipped, incomplete (see `report.summarize`); saved as
        # metadata.json.
        metadata=tfds.core.MetadataDict(),
        # Keep the id order on disk, so that `train[:n]` is clips 0..n-1.
        disable_shuffling=True,
    )

  def _download_and_prepare(self, dl_manager, download_config):
    # The download config says whether to use Beam and where the videos are;
    # _split_generators does not receive it.
    self._video_download_config = download_config
    self._beam_report_path = None
    with _sigterm_as_exit():
      try:
        super()._download_and_prepare(dl_manager, download_config)
      except Exception as e:  # pylint: disable=broad-except
        # Beam re-raises errors of its workers as RuntimeError: give the
        # same NoClipsError as the in-process build.
        report = self._beam_report_path and epath.Path(self._beam_report_path)
        if not report or not report.exists():
          raise
        summary = json.loads(report.read_text())
        if summary['num_clips']:
          raise
        raise NoClipsError(summary) from e

  def _video_root(self, dl_manager) -> epath.Path:
    download_config = getattr(self, '_video_download_config', None)
    if download_config is not None and download_config.manual_dir:
      root = epath.Path(download_config.manual_dir).expanduser()
    else:
      root = dl_manager.download_dir / 'manual' / DEFAULT_MANUAL_SUBDIR
    if not root.is_dir():
      raise FileNotFoundError(
          f'No folder of videos at {root}.\n{self.MANUAL_DOWNLOAD_INSTRUCTIONS}'
      )
    return root.resolve()

  def _uses_beam(self) -> bool:
    download_config = getattr(self, '_video_download_config', None)
    return download_config is not None and bool(
        download_config.beam_runner or download_config.beam_options
    )

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    config = self.builder_config
    root = os.fspath(self._video_root(dl_manager))
    sources = sources_lib.list_sources(root)
    if not sources:
      raise FileNotFoundError(
          f'Found no video under {root}.\n{self.MANUAL_DOWNLOAD_INSTRUCTIONS}'
      )
    self._source_digest = sources_lib.folder_digest(root, sources)
    if config.source_digest and config.source_digest != self._source_digest:
      raise ValueError(
          f'The videos under {root} have the digest {self._source_digest}, not'
          f' {config.source_digest} as config {config.name} says: that config'
          ' is for the folder as it was when its digest was taken.'
      )
    logging.info('video_folder: %d sources under %s.', len(sources), root)
    if self._uses_beam():
      self._beam_report_path = os.fspath(
          self.data_path / beam_lib.REPORT_FILENAME
      )
      return {
          'train': beam_lib.examples(
              root, sources, config.frames, config.size, config.stride,
              self._beam_report_path,
          )
      }
    return {'train': self._generate_examples(root, sources)}

  def _generate_examples(self, root: str, sources: list[sources_lib.Source]):
    config = self.builder_config
    reports, next_id = [], 0
    for source in tfds.core.utils.tqdm(
        sources, desc='Decoding videos', unit=' files', leave=False
    ):
      report = sources_lib.SourceReport(source.path)
      for clip in sources_lib.iter_clips(
          root, source, config.frames, config.size, config.stride, report
      ):
        yield next_id, {'video': clip, 'video_id': next_id}
        next_id += 1
      reports.append(report)
    summary = report_lib.summarize(root, reports, config.frames, config.stride)
    report_lib.check_has_clips(summary)
    self._store_summary(summary)

  def _process_pipeline_result(self, pipeline_result) -> None:
    """After the Beam pipeline: the per-file report goes to metadata.json."""
    del pipeline_result
    path = epath.Path(self._beam_report_path)
    summary = json.loads(path.read_text())
    path.unlink()
    self._store_summary(summary)

  def _store_summary(self, summary: dict[str, Any]) -> None:
    """Logs the summary and keeps it, with the folder's digest, as metadata."""
    summary = {**summary, 'source_digest': self._source_digest}
    report_lib.log_summary(summary)
    self.info.metadata.update(summary)
