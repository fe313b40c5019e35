"""Tests for the video_folder builder, on a folder of videos the test writes.

Every source has its own green level and a blue ramp over its source frames
(blue = blue_level(t)), so a clip tells which source and which frames it came
from after the resize. The two .mp4 videos with a crop carry pure red bands
outside their centred square: any red in a clip means a wrong crop.
"""

import pathlib

import imageio.v3 as iio
import numpy as np
from PIL import Image
import pytest
import tensorflow_datasets as tfds

from video_folder import video_folder_dataset_builder as vf

FRAMES, SIZE = 4, 16
CONFIG = dict(frames=FRAMES, size=SIZE)
# Codec error of libx264 (yuv420) on flat colours, and GIF's palette.
ATOL = 10


def blue_level(t: int) -> int:
  """Blue of source frame t: a ramp, distinct for t < 16."""
  return (20 + 15 * t) % 256


def frame_pattern(num_frames, h, w, green, bands=None):
  """uint8[T, h, w, 3]: (0, green, blue_level(t)); bands='x' or 'y' in red.

  With bands, the two thirds outside the centred min(h, w) square are
  (255, 0, 0); band edges sit on 16-pixel codec blocks in the tests.
  """
  frames = np.zeros((num_frames, h, w, 3), np.uint8)
  for t in range(num_frames):
    frames[t] = (0, green, blue_level(t))
  if bands == 'x':
    side = (w - h) // 2
    frames[:, :, :side] = frames[:, :, w - side :] = (255, 0, 0)
  elif bands == 'y':
    side = (h - w) // 2
    frames[:, :side] = frames[:, h - side :] = (255, 0, 0)
  return frames


def write_mp4(path: pathlib.Path, frames: np.ndarray):
  path.parent.mkdir(parents=True, exist_ok=True)
  iio.imwrite(path, frames, plugin='FFMPEG', fps=25, codec='libx264',
              macro_block_size=1, quality=10)


# (relative path, green, source frames, clips); sorted-path order = id order.
GOOD = [
    ('a_land.mp4', 40, 10, 2),   # 32 x 96 landscape, red side bands.
    ('anim.gif', 90, 9, 2),
    ('frames', 140, 10, 2),      # frame_1.png .. frame_10.png.
    ('sub/port.mp4', 190, 13, 3),  # 96 x 32 portrait, red top/bottom bands.
]
BAD = {  # path -> words its reason must hold.
    'empty.mp4': 'empty file',
    'notes.mp4': 'cannot decode',
    'short.mp4': '3 frames; a clip needs 4',
    'trunc.mp4': 'moov atom not found',
}


def write_folder(root: pathlib.Path):
  """Writes the GOOD and BAD sources under root."""
  write_mp4(root / 'a_land.mp4', frame_pattern(10, 32, 96, 40, bands='x'))
  iio.imwrite(root / 'anim.gif', frame_pattern(9, 20, 20, 90), duration=40,
              loop=0)
  (root / 'frames').mkdir()
  for t, frame in enumerate(frame_pattern(10, 24, 30, 140)):
    Image.fromarray(frame).save(root / 'frames' / f'frame_{t + 1}.png')
  write_mp4(root / 'sub/port.mp4', frame_pattern(13, 96, 32, 190, bands='y'))
  write_bad_files(root)


def write_bad_files(root: pathlib.Path):
  root.mkdir(parents=True, exist_ok=True)
  (root / 'empty.mp4').write_bytes(b'')
  (root / 'notes.mp4').write_text('Remember to film the jellyfish.\n' * 20)
  write_mp4(root / 'short.mp4', frame_pattern(3, 32, 32, 60))
  write_mp4(root / 'full.mp4', frame_pattern(20, 32, 32, 60))
  data = (root / 'full.mp4').read_bytes()  # Its index (moov) is at the end.
  (root / 'trunc.mp4').write_bytes(data[: len(data) // 2])
  (root / 'full.mp4').unlink()
  (root / '.hidden.mp4').write_bytes(b'')  # Ignored: starts with a dot.


def build(tmp_path, manual_dir, **download_kwargs):
  builder = vf.Builder(
      data_dir=tmp_path / 'data', config=vf.VideoFolderConfig(**CONFIG)
  )
  builder.download_and_prepare(
      download_config=tfds.download.DownloadConfig(
          manual_dir=manual_dir, **download_kwargs
      )
  )
  return builder


@pytest.fixture(scope='module')
def built(tmp_path_factory):
  """Builds the folder once in-process; returns (tmp_path, builder, examples)."""
  tmp_path = tmp_path_factory.mktemp('video_folder')
  write_folder(tmp_path / 'videos')
  builder = build(tmp_path, tmp_path / 'videos')
  examples = list(tfds.as_numpy(builder.as_dataset(split='train')))
  return tmp_path, builder, examples


def test_clip_count_shapes_and_ids(built):
  _, builder, examples = built
  num_clips = sum(clips for *_, clips in GOOD)
  assert builder.info.splits['train'].num_examples == num_clips == 9
  assert [ex['video_id'] for ex in examples] == list(range(num_clips))
  for ex in examples:
    assert ex['video'].shape == (FRAMES, SIZE, SIZE, 3)
    assert ex['video'].dtype == np.uint8


def test_clips_come_from_sources_in_sorted_path_order(built):
  _, _, examples = built
  expected = []  # (green, first source frame) per clip id.
  for _, green, _, clips in GOOD:
    expected += [(green, FRAMES * k) for k in range(clips)]
  for ex, (green, first) in zip(examples, expected, strict=True):
    video = ex['video'].astype(np.int32)
    mean = video.mean(axis=(1, 2))  # [T, 3]
    np.testing.assert_allclose(mean[:, 1], green, atol=ATOL)
    blue = [blue_level(first + t) for t in range(FRAMES)]
    np.testing.assert_allclose(mean[:, 2], blue, atol=ATOL)


def test_center_crop_removes_the_bands(built):
  _, _, examples = built
  cropped = examples[0:2] + examples[6:9]  # a_land.mp4 and sub/port.mp4.
  for ex in cropped:
    video = ex['video'].astype(np.int32)
    assert video[..., 0].max() < 40, video[..., 0].max()  # No red anywhere.


def test_frame_folder_is_read_in_natural_order(built):
  _, _, examples = built
  # PNG is lossless and the frames flat: exact values, frame_10 last.
  video = examples[5]['video']  # Second clip of 'frames': frame_5..frame_8.
  np.testing.assert_array_equal(
      video[:, 0, 0, 2], [blue_level(t) for t in range(4, 8)]
  )


def test_bad_files_are_skipped_and_reported(built):
  _, builder, _ = built
  metadata = builder.info.metadata
  skipped = {s['path']: s['reason'] for s in metadata['skipped']}
  assert sorted(skipped) == sorted(BAD)
  for path, words in BAD.items():
    assert words in skipped[path], (path, skipped[path])
  assert [v['path'] for v in metadata['videos']] == [g[0] for g in GOOD]
  assert [v['first_id'] for v in metadata['videos']] == [0, 2, 4, 6]
  assert metadata['num_clips'] == 9


def test_report_is_stored_with_the_data(built):
  tmp_path, builder, _ = built
  version_dir = tmp_path / 'data/video_folder/f4_s16_st1/1.0.0'
  assert pathlib.Path(builder.data_dir) == version_dir
  reloaded = tfds.builder_from_directory(version_dir)
  assert reloaded.info.metadata['num_clips'] == 9
  assert len(reloaded.info.metadata['skipped']) == len(BAD)
  # TFDS built into an incomplete.* folder and renamed it: none is left.
  assert not list((tmp_path / 'data').rglob('*incomplete*'))


def test_skipped_files_are_logged_one_line_each(tmp_path, caplog):
  write_bad_files(tmp_path / 'videos')
  write_mp4(tmp_path / 'videos/ok.mp4', frame_pattern(4, 16, 16, 60))
  with caplog.at_level('WARNING'):
    build(tmp_path, tmp_path / 'videos')
  text = caplog.text
  assert 'skipped 4 of 5 files' in text
  for path in BAD:
    assert f'  {path}: ' in text


def test_only_bad_files_fail_naming_each(tmp_path):
  write_bad_files(tmp_path / 'videos')
  with pytest.raises(vf.NoClipsError) as info:
    build(tmp_path, tmp_path / 'videos')
  message = str(info.value)
  for path, words in BAD.items():
    assert f'{path}: ' in message and words in message, message
  assert sorted(p for p, _ in info.value.skipped) == sorted(BAD)
  # The failed build leaves no data (and no incomplete folder) behind.
  assert not list((tmp_path / 'data').rglob('dataset_info.json'))
  assert not list((tmp_path / 'data').rglob('*incomplete*'))


def test_beam_only_bad_files_fail_the_same_way(tmp_path):
  from apache_beam.runners.portability.fn_api_runner import fn_runner  # pylint: disable=g-import-not-at-top

  write_bad_files(tmp_path / 'videos')
  with pytest.raises(vf.NoClipsError) as info:
    build(tmp_path, tmp_path / 'videos', beam_runner=fn_runner.FnApiRunner())
  assert sorted(p for p, _ in info.value.skipped) == sorted(BAD)
  assert not list((tmp_path / 'data').rglob('*incomplete*'))


def test_missing_folder_is_an_error(tmp_path):
  with pytest.raises(FileNotFoundError, match='No folder of videos'):
    build(tmp_path, tmp_path / 'nowhere')


def test_beam_build_equals_in_process_build(built, tmp_path):
  """The Beam path (in-process FnApiRunner) gives the same clips and report."""
  from apache_beam.runners.portability.fn_api_runner import fn_runner  # pylint: disable=g-import-not-at-top

  source_tmp, builder, examples = built
  beam_builder = build(
      tmp_path, source_tmp / 'videos', beam_runner=fn_runner.FnApiRunner()
  )
  beam_examples = list(tfds.as_numpy(beam_builder.as_dataset(split='train')))
  assert [ex['video_id'] for ex in beam_examples] == list(range(9))
  for ours, theirs in zip(examples, beam_examples, strict=True):
    np.testing.assert_array_equal(ours['video'], theirs['video'])
  assert dict(beam_builder.info.metadata) == dict(builder.info.metadata)
  version_dir = pathlib.Path(beam_builder.data_dir)
  assert not (version_dir / vf._BEAM_REPORT_FILENAME).exists()  # pylint: disable=protected-access


def test_without_manual_dir_reads_the_video_folder_subfolder(tmp_path):
  downloads = tmp_path / 'downloads'
  _frame_folder(downloads / 'manual/other_dataset', 8)  # Not read.
  _frame_folder(downloads / 'manual/video_folder/clip', 8)
  builder = vf.Builder(
      data_dir=tmp_path / 'data', config=vf.VideoFolderConfig(**CONFIG)
  )
  builder.download_and_prepare(download_dir=downloads)
  assert [v['path'] for v in builder.info.metadata['videos']] == ['clip']
  assert builder.info.splits['train'].num_examples == 2


def _frame_folder(root: pathlib.Path, num_frames: int) -> vf.Source:
  root.mkdir(parents=True, exist_ok=True)
  for t, frame in enumerate(frame_pattern(num_frames, 8, 8, 100)):
    Image.fromarray(frame).save(root / f'{t:03d}.png')
  return vf.Source('.', vf.FRAMES)


def test_stride_takes_every_stride_th_frame_of_whole_spans(tmp_path):
  source = _frame_folder(tmp_path, 13)  # Spans of 8: one clip, 5 left over.
  report = vf.SourceReport('.')
  clips = list(vf.iter_clips(str(tmp_path), source, 4, 8, 2, report))
  assert (len(clips), report.clips, report.frames, report.error) == (
      1, 1, 13, ''
  )
  np.testing.assert_array_equal(
      clips[0][:, 0, 0, 2], [blue_level(t) for t in (0, 2, 4, 6)]
  )


def test_decoding_that_stops_midway_keeps_whole_clips(tmp_path):
  source = _frame_folder(tmp_path, 10)
  (tmp_path / '006.png').write_bytes(b'not a png')  # The 7th frame.
  report = vf.SourceReport('.')
  clips = list(vf.iter_clips(str(tmp_path), source, 4, 8, 1, report))
  assert len(clips) == 1  # Frames 0..3; frames 4, 5 are dropped.
  assert report.frames == 6 and 'cannot read frame 006.png' in report.error
  summary = vf.summarize(str(tmp_path), [report], 4, 1)
  assert summary['incomplete'][0]['clips'] == 1


def test_truncated_stream_keeps_whole_clips_and_is_noted(tmp_path):
  path = tmp_path / 'full.mkv'
  iio.imwrite(path, frame_pattern(40, 32, 32, 60), plugin='FFMPEG', fps=25,
              codec='libx264', macro_block_size=1)
  data = path.read_bytes()
  (tmp_path / 'half.mkv').write_bytes(data[: len(data) // 2])
  report = vf.SourceReport('half.mkv')
  clips = list(vf.iter_clips(
      str(tmp_path), vf.Source('half.mkv', vf.FFMPEG), 4, 8, 1, report
  ))
  assert 4 <= report.frames < 40 and len(clips) == report.frames // 4
  assert 'truncated' in report.note


def test_rotated_phone_video_is_upright_and_cropped(tmp_path, caplog):
  import subprocess  # pylint: disable=g-import-not-at-top
  import imageio_ffmpeg  # pylint: disable=g-import-not-at-top

  write_mp4(tmp_path / 'flat.mp4', frame_pattern(4, 32, 96, 40, bands='x'))
  # A rotation tag, as phones write: the stored frames are 96 wide, 32 high.
  subprocess.run(
      [imageio_ffmpeg.get_ffmpeg_exe(), '-loglevel', 'error',
       '-display_rotation', '90', '-i', str(tmp_path / 'flat.mp4'), '-c',
       'copy', str(tmp_path / 'rot.mp4')],
      check=True,
  )
  frames = list(vf._iter_ffmpeg(str(tmp_path / 'rot.mp4'), vf.SourceReport('')))  # pylint: disable=protected-access
  assert frames[0].shape == (96, 32, 3)  # Upright: portrait.
  report = vf.SourceReport('rot.mp4')
  with caplog.at_level('WARNING'):
    (clip,) = vf.iter_clips(
        str(tmp_path), vf.Source('rot.mp4', vf.FFMPEG), 4, 16, 1, report
    )
  assert clip[..., 0].max() < 40  # The red bands, now top and bottom, cut.
  assert 'frame size' not in caplog.text  # imageio-ffmpeg's notice is muted.


def test_list_sources_sorted_recursive_and_typed(tmp_path):
  for name in ('b.MP4', 'a/c.webm', 'a.mov', 'x/1.jpg', 'x/2.JPG', 'z.txt',
               '.git/d.mp4', 'x/.e.mp4'):
    (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / name).write_bytes(b'')
  sources = vf.list_sources(tmp_path)
  assert [(s.path, s.kind) for s in sources] == [
      ('a.mov', vf.FFMPEG), ('a/c.webm', vf.FFMPEG), ('b.MP4', vf.FFMPEG),
      ('x', vf.FRAMES),
  ]


def test_center_square():
  frame = np.arange(96)[None, :, None] * np.ones((32, 1, 3), np.int64)
  square = vf.center_square(frame)
  assert square.shape == (32, 32, 3)
  assert (square[0, 0, 0], square[0, -1, 0]) == (32, 63)
  assert vf.center_square(frame.transpose(1, 0, 2)).shape == (32, 32, 3)


def test_config_name_follows_the_settings():
  assert vf.VideoFolderConfig().name == 'f25_s128_st1'
  assert vf.VideoFolderConfig(frames=16, size=64, stride=2).name == (
      'f16_s64_st2'
  )
  assert vf.VideoFolderConfig(tag='holiday').name == 'f25_s128_st1_holiday'
  assert vf.VideoFolderConfig(name='f8_s32_st1', frames=8, size=32).frames == 8
  default = vf.Builder.BUILDER_CONFIGS[0]
  assert default.name == vf.Builder.DEFAULT_BUILDER_CONFIG_NAME


def test_builder_takes_a_fresh_config_equal_to_the_default(tmp_path):
  # TFDS alone would refuse a second object named like a class config.
  builder = vf.Builder(data_dir=tmp_path, config=vf.VideoFolderConfig())
  assert builder.builder_config is vf.Builder.BUILDER_CONFIGS[0]
  assert pathlib.Path(builder.data_dir) == (
      tmp_path / 'video_folder/f25_s128_st1/1.0.0'
  )


@pytest.mark.parametrize(
    'kwargs',
    [dict(frames=0), dict(size=0), dict(stride=0), dict(frames=2.5),
     dict(size=True), dict(tag='Bad Tag'), dict(name='mine'),
     dict(name='f25_s128_st1', frames=16)],
)
def test_config_rejects_bad_values(kwargs):
  with pytest.raises(ValueError):
    vf.VideoFolderConfig(**kwargs)
