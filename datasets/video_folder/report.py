"""What a build made of each file: the summary, its log lines, NoClipsError.

    summary = summarize(root, reports, frames=25, stride=1)
    check_has_clips(summary)      # NoClipsError listing every file and why
    log_summary(summary)          # one line per skipped or incomplete file

The summary is what the dataset's metadata.json holds (`builder.info.metadata`).
"""

from __future__ import annotations

from typing import Any

from absl import logging

from . import sources as sources_lib


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


def summarize(
    root: str,
    reports: list[sources_lib.SourceReport],
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
      reason = sources_lib.skip_reason(r, frames, stride)
      skipped.append({'path': r.path, 'reason': reason})
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

