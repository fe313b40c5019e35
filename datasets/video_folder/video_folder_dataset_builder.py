"""video_folder: fixed-size clips of every video in a folder of your own footage.

The user points the build at a folder (the manual dir) holding videos, found
recursively:
  * video files: .mp4, .mov, .avi, .mkv, .webm (decoded as a stream by
    imageio's v3 FFMPEG plugin, i.e. the ffmpeg binary of imageio-ffmpeg; a
    rotation tag is applied, as ffmpeg does) and .gif (decoded by pillow);
  * frame folders: a folder that directly holds .png, .jpg or .jpeg files is one
    video, its frames in natural numeric order of the numbers in their names
    (frame2.png before frame10.png). Other files in such a folder, and its
    subfolders, are walked as usual.
Extensions match in any case (.MP4 too). Names starting with a dot (.DS_Store,
macOS `._clip.mp4` files, hidden folders) are ignored.

Each video is cut into consecutive, non-overlapping clips of
`frames * stride` source frames, of which every `stride`-th one is kept:
clip k holds source frames k*frames*stride + j*stride, j = 0..frames-1. A
trailing remainder shorter than a clip is dropped. Every kept frame is cropped
to its centred min(H, W) square and resized to `size` x `size` with
`tf.image.resize(method='bilinear', antialias=True)`, rounded and clipped to
uint8 (the same resize as the rainbow_jelly builder).

Each example is `video`: uint8[frames, size, size, 3] (RGB, stored as PNG
frames) and `video_id`: int64. Ids are 0..N-1 in sorted-path order: sources
sorted by their POSIX path relative to the folder (plain string order), then
clip index, so they are the same on every machine; they are stored in id order
in one `train` split.

Bad files never stop a build: an unreadable, empty, truncated or too short
source (fewer than `frames * stride` frames) is skipped; a source whose decoding
stops midway keeps its whole clips. The build logs one line per such file with
the reason, and stores the list with the id range of every source in the
dataset's `metadata.json` (`builder.info.metadata`). A build in which no file
gives a clip fails with `NoClipsError`, which lists every file and its reason.

The builder runs in-process, or, when the download config carries Beam options
or a runner (`tfds build ... --beam_pipeline_options=...`), as an Apache Beam
pipeline that decodes one file per work item.

  tfds build datasets/video_folder --manual_dir=DIR
  tfds build datasets/video_folder --manual_dir=DIR \
      --config='{"frames": 16, "size": 64, "stride": 2}'
"""

from __future__ import annotations

from collections.abc import Iterator
import contextlib
import dataclasses
import importlib
import json
import logging as std_logging
import os
import re
import signal
import sys
import threading
from typing import Any

from absl import logging
from etils import epath
import imageio.v3 as iio
import numpy as np
from PIL import Image
import tensorflow as tf
import tensorflow_datasets as tfds

VIDEO_EXTENSIONS = ('.mp4', '.mov', '.avi', '.mkv', '.webm')
GIF_EXTENSIONS = ('.gif',)
FRAME_EXTENSIONS = ('.png', '.jpg', '.jpeg')
# Kinds of source.
FFMPEG, GIF, FRAMES = 'ffmpeg', 'gif', 'frames'
# Subfolder of TFDS's default manual dir used when no --manual_dir is given.
DEFAULT_MANUAL_SUBDIR = 'video_folder'
# Temporary file the Beam pipeline writes its per-file report to.
_BEAM_REPORT_FILENAME = 'video_folder_report.json'
_TAG_PATTERN = re.compile(r'^[a-z0-9][a-z0-9_-]*$')


def _check_int(name: str, value: Any, minimum: int):
  if isinstance(value, bool) or not isinstance(value, int):
    raise ValueError(f'{name} must be an int, got {value!r}')
  if value < minimum:
    raise ValueError(f'{name} must be >= {minimum}, got {value}')


def config_name(frames: int, size: int, stride: int, tag: str = '') -> str:
  """The config (and folder) name of these settings, e.g. 'f25_s128_st1'."""
  name = f'f{frames}_s{size}_st{stride}'
  return f'{name}_{tag}' if tag else name


@dataclasses.dataclass(eq=False)
class VideoFolderConfig(tfds.core.BuilderConfig):
  """Clip settings; the name is derived from them, so is the data folder.

  Attributes:
    name: leave empty: set to `config_name(frames, size, stride, tag)`, e.g.
      'f25_s128_st1'. A given name must equal that.
    frames: T, frames per clip.
    size: side of the square output frames, in pixels.
    stride: keep every stride-th source frame (a clip spans frames * stride
      source frames).
    tag: optional label (lower-case letters, digits, '_' and '-') appended to
      the name, so that clips of two different folders with the same settings
      can live in one data_dir ('f25_s128_st1_holiday').
  """

  name: str = ''
  frames: int = 25
  size: int = 128
  stride: int = 1
  tag: str = ''

  def __post_init__(self):
    _check_int('frames', self.frames, 1)
    _check_int('size', self.size, 1)
    _check_int('stride', self.stride, 1)
    if not isinstance(self.tag, str) or (
        self.tag and not _TAG_PATTERN.match(self.tag)
    ):
      raise ValueError(
          f'tag must be empty or match {_TAG_PATTERN.pattern}, got {self.tag!r}'
      )
    expected = config_name(self.frames, self.size, self.stride, self.tag)
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
          + '.'
      )


class NoClipsError(ValueError):
  """No file of the folder gave a clip; `skipped` lists (path, reason)."""

  def __init__(self, summary: dict[str, Any]):
    self.summary = summary
    self.skipped = [(s['path'], s['reason']) for s in summary['skipped']]
    lines = [f'  {path}: {reason}' for path, reason in self.skipped]
    super().__init__(
        f'No file under {summary["source_dir"]} gave a clip of'
        f' {summary["clip_span"]} source frames; every one of the'
        f' {len(self.skipped)} files was skipped:\n' + '\n'.join(lines)
    )


@dataclasses.dataclass
class Source:
  """One video: `path` relative to the folder (POSIX), and its kind."""

  path: str
  kind: str


@dataclasses.dataclass
class SourceReport:
  """What decoding one source gave.

  Attributes:
    path: the source's path relative to the folder.
    frames: source frames decoded.
    clips: whole clips made.
    error: why decoding stopped before the end of the source ('' if it did
      not).
    note: something else worth reporting (e.g. fewer frames than the header
      announces).
  """

  path: str
  frames: int = 0
  clips: int = 0
  error: str = ''
  note: str = ''


def _natural_key(name: str) -> tuple[Any, ...]:
  """Sort key: 'frame10.png' after 'frame2.png' (digit runs compare as ints)."""
  parts = re.split(r'(\d+)', name)
  return tuple(int(p) if i % 2 else p for i, p in enumerate(parts)), name


def list_sources(root: epath.PathLike) -> list[Source]:
  """Lists the videos under `root`, sorted by relative path.

  Args:
    root: the folder of videos (a local path).

  Returns:
    The sources, sorted by their POSIX path relative to `root`. A frame folder's
    path is the folder's ('.' for `root` itself). Symlinked folders are
    followed (each real folder once); names starting with '.' are ignored.
  """
  root = os.fspath(root)
  sources, seen = [], set()
  for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
    real = os.path.realpath(dirpath)
    if real in seen:  # A symlink loop, or a folder linked twice.
      dirnames[:] = []
      continue
    seen.add(real)
    dirnames[:] = [d for d in dirnames if not d.startswith('.')]
    rel_dir = os.path.relpath(dirpath, root)
    has_frames = False
    for filename in filenames:
      if filename.startswith('.'):
        continue
      ext = os.path.splitext(filename)[1].lower()
      rel = os.path.normpath(os.path.join(rel_dir, filename))
      rel = rel.replace(os.sep, '/')
      if ext in VIDEO_EXTENSIONS:
        sources.append(Source(rel, FFMPEG))
      elif ext in GIF_EXTENSIONS:
        sources.append(Source(rel, GIF))
      elif ext in FRAME_EXTENSIONS:
        has_frames = True
    if has_frames:
      sources.append(Source(rel_dir.replace(os.sep, '/'), FRAMES))
  return sorted(sources, key=lambda s: s.path)


def center_square(frame: np.ndarray) -> np.ndarray:
  """Crops uint8[H, W, C] to its centred uint8[S, S, C], S = min(H, W)."""
  h, w = frame.shape[:2]
  side = min(h, w)
  top, left = (h - side) // 2, (w - side) // 2
  return frame[top : top + side, left : left + side]


def to_rgb(frame: np.ndarray) -> np.ndarray:
  """uint8[H, W], [H, W, 1], [H, W, 3] or [H, W, 4] -> uint8[H, W, 3]."""
  if frame.ndim == 2:
    frame = frame[..., None]
  if frame.shape[-1] == 1:
    return np.repeat(frame, 3, axis=-1)
  return frame[..., :3]


def resize_frame(frame: np.ndarray, size: int) -> np.ndarray:
  """Centre crop and antialiased bilinear resize to uint8[size, size, 3]."""
  square = center_square(to_rgb(np.asarray(frame)))
  resized = tf.image.resize(square, (size, size), antialias=True).numpy()
  return np.clip(np.round(resized), 0, 255).astype(np.uint8)


def _ffmpeg_reason(error: BaseException) -> str:
  """A one-line reason from an imageio/ffmpeg exception.

  ffmpeg's messages hold its whole banner; keep the last two messages of its
  '[demuxer @ 0x...] message' lines, else the last line.
  """
  lines = [l.strip() for l in str(error).splitlines() if l.strip()]
  if not lines:
    return type(error).__name__
  messages = []
  for line in lines:
    match = re.match(r'^\[[^\]]+ @ 0x[0-9a-f]+\] (.*)$', line)
    if match and match.group(1) not in messages:
      messages.append(match.group(1))
  reason = '; '.join(messages[-2:]) if messages else lines[-1]
  return f'{type(error).__name__}: {reason}'


@contextlib.contextmanager
def _quiet_imageio_ffmpeg():
  """Silences imageio-ffmpeg's Python-side warnings (e.g. rotated frames).

  ffmpeg's own stderr is already captured by imageio-ffmpeg and ends up, if
  anywhere, in the exception message.
  """
  logger = std_logging.getLogger('imageio_ffmpeg')
  level = logger.level
  logger.setLevel(std_logging.ERROR)
  try:
    yield
  finally:
    logger.setLevel(level)


def _iter_ffmpeg(path: str, report: SourceReport) -> Iterator[np.ndarray]:
  """Streams uint8[H, W, 3] frames of a video file with imageio's FFMPEG.

  Notes in `report` when the file ends well before the length its header
  announces (a cut-off .mkv, .webm or faststart .mp4 just ends early).
  """
  num_frames = 0
  with _quiet_imageio_ffmpeg(), iio.imopen(path, 'r', plugin='FFMPEG') as file:
    reader = file.legacy_get_reader()  # One ffmpeg process, closed below.
    try:
      meta = reader.get_meta_data()
      for frame in reader:
        num_frames += 1
        yield frame
    finally:
      reader.close()
  try:
    expected = round(float(meta['duration']) * float(meta['fps']))
  except (KeyError, TypeError, ValueError, OverflowError):
    return
  if num_frames < 0.95 * expected - 2:
    report.note = (
        f'decoded {num_frames} frames where its header announces about'
        f' {expected} (truncated file?)'
    )


def _iter_gif(path: str) -> Iterator[np.ndarray]:
  """Streams uint8[H, W, 3] frames of a GIF with imageio's pillow plugin."""
  yield from iio.imiter(path, plugin='pillow', mode='RGB')


def _iter_frame_folder(path: str) -> Iterator[np.ndarray]:
  """Reads the images of a folder in natural numeric order of their names."""
  names = [
      n
      for n in os.listdir(path)
      if not n.startswith('.')
      and os.path.splitext(n)[1].lower() in FRAME_EXTENSIONS
      and os.path.isfile(os.path.join(path, n))
  ]
  for name in sorted(names, key=_natural_key):
    try:
      with Image.open(os.path.join(path, name)) as image:
        frame = np.asarray(image.convert('RGB'))
    except Exception as e:  # pylint: disable=broad-except
      raise ValueError(f'cannot read frame {name}: {e}') from e
    yield frame


def iter_clips(
    root: str,
    source: Source,
    frames: int,
    size: int,
    stride: int,
    report: SourceReport,
) -> Iterator[np.ndarray]:
  """Cuts one source into clips; never raises for a bad file.

  Args:
    root: the folder of videos.
    source: the source to decode.
    frames: T, frames per clip.
    size: side of the output frames.
    stride: keep every stride-th source frame.
    report: filled in with the frames decoded, clips made and the error that
      stopped decoding, if any.

  Yields:
    uint8[frames, size, size, 3]; clip k holds source frames
    k * frames * stride + j * stride, j = 0..frames-1.
  """
  path = os.path.join(root, source.path)
  span = frames * stride
  buffer = []
  try:
    if source.kind != FRAMES and os.path.getsize(path) == 0:
      report.error = 'empty file (0 bytes)'
      return
    if source.kind == FFMPEG:
      stream = _iter_ffmpeg(path, report)
    elif source.kind == GIF:
      stream = _iter_gif(path)
    else:
      stream = _iter_frame_folder(path)
    for frame in stream:
      n = report.frames
      report.frames += 1
      if n % stride == 0:
        buffer.append(resize_frame(frame, size))
      if (n + 1) % span == 0:  # The clip's span of source frames is complete.
        clip = np.stack(buffer)
        buffer = []
        report.clips += 1
        yield clip
  except Exception as e:  # pylint: disable=broad-except
    # A bad file must not stop the build: record why decoding stopped.
    report.error = (
        _ffmpeg_reason(e) if source.kind == FFMPEG else
        f'{type(e).__name__}: {e}'
    )


def skip_reason(report: SourceReport, frames: int, stride: int) -> str:
  """Why a source gave no clip (`report.clips == 0`)."""
  needed = frames * stride
  if report.error and not report.frames:
    return f'cannot decode: {report.error}'
  why = (
      f'{report.frames} frames; a clip needs {needed}'
      f' ({frames} frames x stride {stride})'
  )
  if report.error:
    why = f'decoding stopped after {why}: {report.error}'
  elif report.note:
    why = f'{why}; {report.note}'
  return why


def summarize(
    root: str,
    reports: list[SourceReport],
    frames: int,
    stride: int,
) -> dict[str, Any]:
  """What happened to each file, for `info.metadata` and the log.

  Args:
    root: the folder of videos.
    reports: one per source, in id order.
    frames: T.
    stride: the stride.

  Returns:
    {'source_dir', 'clip_span', 'num_clips', 'num_files', 'videos': [{'path',
    'first_id', 'clips', 'frames'}], 'skipped': [{'path', 'reason'}],
    'incomplete': [{'path', 'reason', 'clips'}]}: `videos` gives each source's
    clip ids first_id..first_id + clips - 1; `incomplete` lists sources that
    gave clips but ended early; `clip_span` is frames * stride.
  """
  videos, skipped, incomplete = [], [], []
  next_id = 0
  for r in reports:
    if not r.clips:
      skipped.append({'path': r.path, 'reason': skip_reason(r, frames, stride)})
      continue
    videos.append({
        'path': r.path, 'first_id': next_id, 'clips': r.clips,
        'frames': r.frames,
    })
    next_id += r.clips
    if r.error or r.note:
      reason = (
          f'decoding stopped after {r.frames} frames: {r.error}'
          if r.error else r.note
      )
      incomplete.append({'path': r.path, 'reason': reason, 'clips': r.clips})
  return {
      'source_dir': root,
      'clip_span': frames * stride,
      'num_clips': next_id,
      'num_files': len(reports),
      'videos': videos,
      'skipped': skipped,
      'incomplete': incomplete,
  }


def check_has_clips(summary: dict[str, Any]) -> None:
  """Raises NoClipsError, listing every file and why, if there is no clip."""
  if not summary['num_clips']:
    raise NoClipsError(summary)


def log_summary(summary: dict[str, Any]) -> None:
  """Logs the clip count and one line per skipped or incomplete file."""
  root, num_files = summary['source_dir'], summary['num_files']
  logging.info(
      'video_folder: %d clips from %d of %d files under %s.',
      summary['num_clips'], len(summary['videos']), num_files, root,
  )
  if summary['skipped']:
    lines = [f'  {s["path"]}: {s["reason"]}' for s in summary['skipped']]
    logging.warning(
        'video_folder: skipped %d of %d files under %s (listed in the'
        " dataset's metadata.json):\n%s", len(summary['skipped']), num_files,
        root, '\n'.join(lines),
    )
  if summary['incomplete']:
    lines = [
        f'  {s["path"]}: {s["reason"]}; kept {s["clips"]} clips'
        for s in summary['incomplete']
    ]
    logging.warning(
        'video_folder: %d files ended early:\n%s', len(summary['incomplete']),
        '\n'.join(lines),
    )


# ---------------------------------------------------------------------------
# Apache Beam path. The functions below run on Beam workers: they are pickled
# by value (see _pickle_this_module_by_value), so workers need the pip packages
# (tensorflow, tensorflow-datasets, imageio, imageio-ffmpeg, pillow,
# apache-beam) but not this folder.


def _beam_decode(item, root, frames, size, stride):
  """(index, path, kind) -> (index, clip_index, [PNG bytes] * T) and a report.

  The report, (index, SourceReport as a dict), goes to the 'report' output.
  """
  import apache_beam as beam  # pylint: disable=g-import-not-at-top

  index, path, kind = item  # Plain values: Beam's coders pickle elements
  source = Source(path, kind)  # by reference, and workers lack this module.
  report = SourceReport(path)
  for clip_index, clip in enumerate(
      iter_clips(root, source, frames, size, stride, report)
  ):
    # Encoded here, so that what Beam moves between stages is the PNG frames
    # (what tfds.features.Video would store anyway), not raw pixels.
    pngs = [tf.io.encode_png(frame).numpy() for frame in clip]
    yield index, clip_index, pngs
  logging.info(
      'video_folder: %s: %d clips from %d frames%s', source.path, report.clips,
      report.frames, f' ({report.error})' if report.error else '',
  )
  yield beam.pvalue.TaggedOutput('report', (index, dataclasses.asdict(report)))


def _beam_offsets(indexed_reports, root, frames, stride, report_path):
  """Per-file reports -> {index: first clip id}; writes the summary file."""
  indexed_reports = sorted(indexed_reports, key=lambda x: x[0])
  reports = [SourceReport(**r) for _, r in indexed_reports]
  summary = summarize(root, reports, frames, stride)
  epath.Path(report_path).write_text(json.dumps(summary))
  check_has_clips(summary)  # Beam wraps it; _download_and_prepare unwraps.
  offsets, next_id = {}, 0
  for (index, _), report in zip(indexed_reports, reports, strict=True):
    offsets[index] = next_id
    next_id += report.clips
  return offsets


def _beam_assign_id(item, offsets):
  index, clip_index, pngs = item
  video_id = offsets[index] + clip_index
  return video_id, {'video': pngs, 'video_id': video_id}


def _pickle_this_module_by_value():
  """Lets Beam workers unpickle this module's functions without importing it.

  `tfds build datasets/video_folder` imports this file from a path that is
  not on the workers' sys.path; cloudpickle (Beam's default pickler) then
  pickles the functions by value instead of by module name.
  """
  module = sys.modules[__name__]
  for name in ('apache_beam.internal.cloudpickle.cloudpickle', 'cloudpickle'):
    try:
      cloudpickle = importlib.import_module(name)
    except ImportError:
      continue
    cloudpickle.register_pickle_by_value(module)


def beam_examples(
    root: str,
    sources: list[Source],
    config: VideoFolderConfig,
    report_path: str,
):
  """The Beam PTransform yielding (video_id, example), one work item a file."""
  beam = tfds.core.lazy_imports.apache_beam
  _pickle_this_module_by_value()
  settings = dict(frames=config.frames, size=config.size, stride=config.stride)

  @beam.ptransform_fn
  def _examples(pbegin):
    decoded = (
        pbegin
        | 'ListFiles'
        >> beam.Create([(i, s.path, s.kind) for i, s in enumerate(sources)])
        | 'Decode'
        >> beam.FlatMap(_beam_decode, root=root, **settings).with_outputs(
            'report', main='clips'
        )
    )
    offsets = (
        decoded.report
        | 'CollectReports' >> beam.combiners.ToList()
        | 'Offsets'
        >> beam.Map(
            _beam_offsets, root=root, frames=config.frames,
            stride=config.stride, report_path=report_path,
        )
    )
    return decoded.clips | 'AssignIds' >> beam.Map(
        _beam_assign_id, offsets=beam.pvalue.AsSingleton(offsets)
    )

  return _examples()  # pylint: disable=no-value-for-parameter


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
Put your videos ({', '.join(VIDEO_EXTENSIONS + GIF_EXTENSIONS)}, or folders of
numbered {', '.join(FRAME_EXTENSIONS)} frames) in a folder, in any subfolders,
and pass it with `tfds build datasets/video_folder --manual_dir=DIR`. Without
--manual_dir the build reads the `{DEFAULT_MANUAL_SUBDIR}` subfolder of TFDS's
manual folder, ~/tensorflow_datasets/downloads/manual/{DEFAULT_MANUAL_SUBDIR}/
(that folder is shared with other datasets).
"""

  def __init__(self, *, config=None, **kwargs):
    # TFDS rejects a config object that is not the class's own but carries
    # one of its names. Same name means same settings here: use the class's
    # object (e.g. for VideoFolderConfig() or --config='{}').
    if isinstance(config, tfds.core.BuilderConfig):
      for known in self.BUILDER_CONFIGS:
        if known.name == config.name and all(
            getattr(config, field, None) == getattr(known, field)
            for field in ('frames', 'size', 'stride', 'tag')
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
        # Filled in by the build: source_dir, num_clips, videos, skipped,
        # incomplete (see `summarize`); saved as metadata.json.
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
    root = os.fspath(self._video_root(dl_manager))
    sources = list_sources(root)
    if not sources:
      raise FileNotFoundError(
          f'Found no video under {root}.\n{self.MANUAL_DOWNLOAD_INSTRUCTIONS}'
      )
    logging.info('video_folder: %d sources under %s.', len(sources), root)
    if self._uses_beam():
      self._beam_report_path = os.fspath(
          self.data_path / _BEAM_REPORT_FILENAME
      )
      return {
          'train': beam_examples(
              root, sources, self.builder_config, self._beam_report_path
          )
      }
    return {'train': self._generate_examples(root, sources)}

  def _generate_examples(self, root: str, sources: list[Source]):
    config = self.builder_config
    reports, next_id = [], 0
    for source in tfds.core.utils.tqdm(
        sources, desc='Decoding videos', unit=' files', leave=False
    ):
      report = SourceReport(source.path)
      for clip in iter_clips(
          root, source, config.frames, config.size, config.stride, report
      ):
        yield next_id, {'video': clip, 'video_id': next_id}
        next_id += 1
      reports.append(report)
    summary = summarize(root, reports, config.frames, config.stride)
    check_has_clips(summary)
    log_summary(summary)
    self.info.metadata.update(summary)

  def _process_pipeline_result(self, pipeline_result) -> None:
    """After the Beam pipeline: the per-file report goes to metadata.json."""
    del pipeline_result
    path = epath.Path(self._beam_report_path)
    summary = json.loads(path.read_text())
    path.unlink()
    log_summary(summary)
    self.info.metadata.update(summary)
