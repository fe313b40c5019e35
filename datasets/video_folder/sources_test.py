"""Tests for sources: finding, digesting and decoding the videos of a folder."""

import os
import subprocess

import imageio.v3 as iio
import imageio_ffmpeg
import numpy as np
import pytest

from video_folder import report as report_lib
from video_folder import sources
from video_folder.testing import blue_level
from video_folder.testing import frame_folder
from video_folder.testing import frame_pattern
from video_folder.testing import write_mp4


def test_stride_takes_every_stride_th_frame_of_whole_spans(tmp_path):
  source = frame_folder(tmp_path, 13)  # Spans of 8: one clip, 5 left over.
  report = sources.SourceReport('.')
  clips = list(sources.iter_clips(str(tmp_path), source, 4, 8, 2, report))
  assert (len(clips), report.clips, report.frames, report.error) == (
      1, 1, 13, ''
  )
  np.testing.assert_array_equal(
      clips[0][:, 0, 0, 2], [blue_level(t) for t in (0, 2, 4, 6)]
  )


def test_decoding_that_stops_midway_keeps_whole_clips(tmp_path):
  source = frame_folder(tmp_path, 10)
  (tmp_path / '006.png').write_bytes(b'not a png')  # The 7th frame.
  report = sources.SourceReport('.')
  clips = list(sources.iter_clips(str(tmp_path), source, 4, 8, 1, report))
  assert len(clips) == 1  # Frames 0..3; frames 4, 5 are dropped.
  assert report.frames == 6 and 'cannot read frame 006.png' in report.error
  summary = report_lib.summarize(str(tmp_path), [report], 4, 1)
  assert summary['incomplete'][0]['clips'] == 1


def test_truncated_stream_keeps_whole_clips_and_is_noted(tmp_path):
  path = tmp_path / 'full.mkv'
  iio.imwrite(path, frame_pattern(40, 32, 32, 60), plugin='FFMPEG', fps=25,
              codec='libx264', macro_block_size=1)
  data = path.read_bytes()
  (tmp_path / 'half.mkv').write_bytes(data[: len(data) // 2])
  report = sources.SourceReport('half.mkv')
  clips = list(sources.iter_clips(
      str(tmp_path), sources.Source('half.mkv', sources.FFMPEG), 4, 8, 1,
      report))
  assert 4 <= report.frames < 40 and len(clips) == report.frames // 4
  assert 'truncated' in report.note


def test_rotated_phone_video_is_upright_and_cropped(tmp_path, caplog):
  write_mp4(tmp_path / 'flat.mp4', frame_pattern(4, 32, 96, 40, bands='x'))
  # A rotation tag, as phones write: the stored frames are 96 wide, 32 high.
  subprocess.run(
      [imageio_ffmpeg.get_ffmpeg_exe(), '-loglevel', 'error',
       '-display_rotation', '90', '-i', str(tmp_path / 'flat.mp4'), '-c',
       'copy', str(tmp_path / 'rot.mp4')],
      check=True,
  )
  frames = list(sources._iter_ffmpeg(  # pylint: disable=protected-access
      str(tmp_path / 'rot.mp4'), sources.SourceReport('')))
  assert frames[0].shape == (96, 32, 3)  # Upright: portrait.
  report = sources.SourceReport('rot.mp4')
  with caplog.at_level('WARNING'):
    (clip,) = sources.iter_clips(
        str(tmp_path), sources.Source('rot.mp4', sources.FFMPEG), 4, 16, 1,
        report,
    )
  assert clip[..., 0].max() < 40  # The red bands, now top and bottom, cut.
  assert 'frame size' not in caplog.text  # imageio-ffmpeg's notice is muted.


def test_list_sources_sorted_recursive_and_typed(tmp_path):
  for name in ('b.MP4', 'a/c.webm', 'a.mov', 'x/1.jpg', 'x/2.JPG', 'z.txt',
               '.git/d.mp4', 'x/.e.mp4'):
    (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / name).write_bytes(b'')
  found = sources.list_sources(tmp_path)
  assert [(s.path, s.kind) for s in found] == [
      ('a.mov', sources.FFMPEG), ('a/c.webm', sources.FFMPEG),
      ('b.MP4', sources.FFMPEG), ('x', sources.FRAMES),
  ]


def test_center_square():
  frame = np.arange(96)[None, :, None] * np.ones((32, 1, 3), np.int64)
  square = sources.center_square(frame)
  assert square.shape == (32, 32, 3)
  assert (square[0, 0, 0], square[0, -1, 0]) == (32, 63)
  assert sources.center_square(frame.transpose(1, 0, 2)).shape == (32, 32, 3)


def test_digest_follows_the_files_the_build_reads(tmp_path):
  root = tmp_path / 'videos'
  frame_folder(root / 'clip', 8)

  def digest():
    return sources.folder_digest(root, sources.list_sources(root))

  seen = [digest()]
  assert len(seen[0]) == 12 and int(seen[0], 16) >= 0
  (root / 'notes.txt').write_text('not a video')  # Not read: same digest.
  assert digest() == seen[0]
  mtime = os.stat(root / 'clip/000.png').st_mtime_ns
  os.utime(root / 'clip/000.png', ns=(mtime, mtime + 10**9))  # Touched.
  seen.append(digest())
  (root / 'clip/008.png').write_bytes(b'')  # A new frame.
  seen.append(digest())
  (root / 'clip/008.png').rename(root / 'b.mp4')  # A new video.
  seen.append(digest())
  assert len(set(seen)) == 4


# What imageio-ffmpeg raises when ffmpeg printed nothing in 10 s, and when the
# forked child died before ffmpeg ran (a Beam worker's gRPC wrote the line).
NEVER_RAN = [
    'Could not load meta information\n=== stderr ===\n\n',
    'Could not load meta information\n=== stderr ===\n\nE1202 05:08:18.770673'
    ' 4912 ev_epoll1_linux.cc:373] (event_engine) Epoll1Poller:0x55aa17825260'
    ' encountered epoll_wait error: Bad file descriptor\n',
]


@pytest.mark.parametrize('message', NEVER_RAN)
def test_ffmpeg_that_never_ran_is_started_again(tmp_path, monkeypatch, message):
  write_mp4(tmp_path / 'ok.mp4', frame_pattern(4, 16, 16, 60))
  (tmp_path / 'notes.mp4').write_text('Not a video.\n' * 20)
  real, calls = iio.imopen, []

  def flaky_imopen(*args, **kwargs):
    file = real(*args, **kwargs)
    get_reader = file.legacy_get_reader

    def legacy_get_reader(**kw):
      calls.append(args[0])
      if len(calls) == 1:
        raise OSError(message)
      return get_reader(**kw)
    file.legacy_get_reader = legacy_get_reader
    return file

  monkeypatch.setattr(sources.iio, 'imopen', flaky_imopen)
  report = sources.SourceReport('ok.mp4')
  clips = list(sources.iter_clips(
      str(tmp_path), sources.Source('ok.mp4', sources.FFMPEG), 4, 8, 1, report))
  assert (len(clips), len(calls), report.error) == (1, 2, '')
  # A file ffmpeg ran on and refused is not tried again.
  report = sources.SourceReport('notes.mp4')
  assert not list(sources.iter_clips(
      str(tmp_path), sources.Source('notes.mp4', sources.FFMPEG), 4, 8, 1,
      report))
  assert len(calls) == 3 and 'Invalid data found' in report.error
