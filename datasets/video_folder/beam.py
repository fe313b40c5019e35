"""The Apache Beam build: one work item per file, for folders of many videos.

    ptransform = examples(root, sources, frames, size, stride, report_path)
    # -> (video_id, {'video': [PNG bytes] * T, 'video_id': int}), as the
    #    in-process build yields; the per-file summary goes to report_path.

The functions below run on Beam workers. They travel pickled by value (see
`pickle_by_value`), with the rest of this folder's modules, so workers need the
pip packages (tensorflow, tensorflow-datasets, imageio, imageio-ffmpeg, pillow,
apache-beam) but not this folder.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import sys

from absl import logging
from etils import epath
import tensorflow as tf
import tensorflow_datasets as tfds

from . import report as report_lib
from . import sources as sources_lib

# Temporary file, in the dataset's folder, that the pipeline writes its
# per-file summary to (the builder moves it into metadata.json).
REPORT_FILENAME = 'video_folder_report.json'


def decode_file(item, root, frames, size, stride):
  """(index, path, kind) -> (index, clip_index, [PNG bytes] * T) and a report.

  The report, (index, SourceReport as a dict), goes to the 'report' output.
  """
  import apache_beam as beam  # pylint: disable=g-import-not-at-top

  index, path, kind = item  # Plain values: Beam's coders pickle elements
  source = sources_lib.Source(path, kind)  # by reference.
  report = sources_lib.SourceReport(path)
  for clip_index, clip in enumerate(
      sources_lib.iter_clips(root, source, frames, size, stride, report)
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


def first_ids(indexed_reports, root, frames, stride, report_path):
  """Per-file reports -> {index: first clip id}; writes the summary file."""
  indexed_reports = sorted(indexed_reports, key=lambda x: x[0])
  reports = [sources_lib.SourceReport(**r) for _, r in indexed_reports]
  summary = report_lib.summarize(root, reports, frames, stride)
  epath.Path(report_path).write_text(json.dumps(summary))
  # Beam wraps the error; the builder's _download_and_prepare unwraps it.
  report_lib.check_has_clips(summary)
  offsets, next_id = {}, 0
  for (index, _), report in zip(indexed_reports, reports, strict=True):
    offsets[index] = next_id
    next_id += report.clips
  return offsets


def assign_id(item, offsets):
  """(index, clip_index, pngs) -> (video_id, example)."""
  index, clip_index, pngs = item
  video_id = offsets[index] + clip_index
  return video_id, {'video': pngs, 'video_id': video_id}


def pickle_by_value():
  """Lets Beam workers unpickle this folder's functions without importing it.

  `tfds build datasets/video_folder` imports the folder as a package from a
  path that is not on the workers' sys.path; cloudpickle (Beam's default
  pickler) then pickles its functions, and the modules they use, by value
  instead of by module name. Registering the package covers every module in it.
  """
  package = sys.modules[__name__.rpartition('.')[0] or __name__]
  for name in ('apache_beam.internal.cloudpickle.cloudpickle', 'cloudpickle'):
    try:
      cloudpickle = importlib.import_module(name)
    except ImportError:
      continue
    cloudpickle.register_pickle_by_value(package)


def examples(
    root: str,
    sources: list[sources_lib.Source],
    frames: int,
    size: int,
    stride: int,
    report_path: str,
):
  """The Beam PTransform yielding (video_id, example), one work item a file."""
  beam = tfds.core.lazy_imports.apache_beam
  pickle_by_value()
  settings = dict(frames=frames, size=size, stride=stride)

  @beam.ptransform_fn
  def _examples(pbegin):
    decoded = (
        pbegin
        | 'ListFiles'
        >> beam.Create([(i, s.path, s.kind) for i, s in enumerate(sources)])
        | 'Decode'
        >> beam.FlatMap(decode_file, root=root, **settings).with_outputs(
            'report', main='clips'
        )
    )
    offsets = (
        decoded.report
        | 'CollectReports' >> beam.combiners.ToList()
        | 'Offsets'
        >> beam.Map(
            first_ids, root=root, frames=frames, stride=stride,
            report_path=report_path,
        )
    )
    return decoded.clips | 'AssignIds' >> beam.Map(
        assign_id, offsets=beam.pvalue.AsSingleton(offsets)
    )

  return _examples()  # pylint: disable=no-value-for-parameter
