"""Tests for the video_folder builder, on a folder of videos the test writes.

The folder is `testing.write_folder`'s: four good sources of known colours and
four bad files (see testing.py).
"""

import pathlib

import numpy as np
import pytest
import tensorflow_datasets as tfds

from video_folder import beam
from video_folder import video_folder_dataset_builder as vf
from video_folder.testing import ATOL
from video_folder.testing import BAD
from video_folder.testing import blue_level
from video_folder.testing import frame_folder
from video_folder.testing import frame_pattern
from video_folder.testing import GOOD
from video_folder.testing import write_bad_files
from video_folder.testing import write_folder
from video_folder.testing import write_mp4

FRAMES, SIZE = 4, 16
CONFIG = dict(frames=FRAMES, size=SIZE)


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
  assert not (version_dir / beam.REPORT_FILENAME).exists()


def test_without_manual_dir_reads_the_video_folder_subfolder(tmp_path):
  downloads = tmp_path / 'downloads'
  frame_folder(downloads / 'manual/other_dataset', 8)  # Not read.
  frame_folder(downloads / 'manual/video_folder/clip', 8)
  builder = vf.Builder(
      data_dir=tmp_path / 'data', config=vf.VideoFolderConfig(**CONFIG)
  )
  builder.download_and_prepare(download_dir=downloads)
  assert [v['path'] for v in builder.info.metadata['videos']] == ['clip']
  assert builder.info.splits['train'].num_examples == 2


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


def test_config_names_read_back_and_name_a_builder(tmp_path):
  digest = '0123456789ab'
  for kwargs in [dict(frames=16, size=64, stride=2), dict(tag='x_1'),
                 dict(source_digest=digest),
                 dict(tag='b', source_digest=digest)]:
    config = vf.VideoFolderConfig(**kwargs)
    again = vf.VideoFolderConfig.from_name(config.name)
    assert (again.name, again.tag, again.source_digest) == (
        config.name, config.tag, config.source_digest)
  assert vf.VideoFolderConfig(tag='b', source_digest=digest).name == (
      'f25_s128_st1_b_0123456789ab')
  builder = vf.Builder(data_dir=tmp_path, config='f4_s16_st1_' + digest)
  assert (builder.builder_config.frames, builder.builder_config.size) == (4, 16)
  with pytest.raises(ValueError, match='tag must be'):
    vf.VideoFolderConfig(tag='a_0123456789ab')  # Would read back as a digest.


def test_a_config_with_a_digest_refuses_another_folder(tmp_path):
  frame_folder(tmp_path / 'videos/clip', 8)
  config = vf.VideoFolderConfig(**CONFIG, source_digest='0123456789ab')
  builder = vf.Builder(data_dir=tmp_path / 'data', config=config)
  with pytest.raises(ValueError, match='not 0123456789ab as config'):
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
        manual_dir=tmp_path / 'videos'))
  assert not list((tmp_path / 'data').rglob('dataset_info.json'))


@pytest.mark.parametrize('interrupt', ['ctrl_c', 'sigterm'])
def test_an_interrupted_build_leaves_nothing_behind(tmp_path, monkeypatch, interrupt):
  import os
  import signal

  write_folder(tmp_path / 'videos')
  real_iter_clips = vf.sources_lib.iter_clips
  calls = []

  def iter_clips_then_stop(*args, **kwargs):
    calls.append(1)
    if len(calls) == 2:             # Midway: the second source, after the first's clips.
      if interrupt == 'ctrl_c':
        raise KeyboardInterrupt
      os.kill(os.getpid(), signal.SIGTERM)
    yield from real_iter_clips(*args, **kwargs)

  monkeypatch.setattr(vf.sources_lib, 'iter_clips', iter_clips_then_stop)
  with pytest.raises(KeyboardInterrupt if interrupt == 'ctrl_c' else SystemExit):
    build(tmp_path, tmp_path / 'videos')
  assert len(calls) == 2
  data = tmp_path / 'data'
  assert not list(data.rglob('*incomplete*')), list(data.rglob('*'))
  assert not list(data.rglob('dataset_info.json'))
  assert not list(data.rglob('*.tfrecord*')) and not list(data.rglob('*.array_record*'))
  # And the next build of the same folder completes.
  monkeypatch.setattr(vf.sources_lib, 'iter_clips', real_iter_clips)
  assert build(tmp_path, tmp_path / 'videos').info.splits['train'].num_examples > 0
