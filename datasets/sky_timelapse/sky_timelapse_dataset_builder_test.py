"""Tests for the sky_timelapse builder, on tiny folders of PNG frames."""

import pathlib
import tempfile

import imageio.v3 as iio
import numpy as np
import pytest
import tensorflow_datasets as tfds

from sky_timelapse import sky_timelapse_dataset_builder as sky

# (clip folder, number of frames, channel that ramps with time)
CLIPS = [
    ('sky_train/vid_b/vid_b_1', 25, 2),  # Blue; sorts after vid_a.
    ('sky_train/vid_a/vid_a_2', 10, 1),  # Too short: skipped.
    ('sky_train/vid_a/vid_a_1', 30, 1),  # Green; only frames 0..24 are kept.
    ('sky_test/vid_c/vid_c_1', 25, 0),  # Ignored: sky_train/ exists.
]


def level(t: int) -> int:
  return 8 * t  # Frame t's value in its ramping channel: 0..232.


def write_clip(folder: pathlib.Path, num_frames: int, channel: int):
  """Writes num_frames PNGs of 36 x 64: a ramping centre square, white bands.

  The centred 36 x 36 square (columns 14..49) has `level(t)` in `channel`
  and 0 elsewhere; the 14-pixel bands left and right are (255, 255, 255), so
  they show in every channel if the crop misses them. Files are written in
  reverse order: the builder must sort them by name.
  """
  folder.mkdir(parents=True)
  for t in reversed(range(num_frames)):
    frame = np.full((36, 64, 3), 255, np.uint8)
    frame[:, 14:50] = 0
    frame[:, 14:50, channel] = level(t)
    iio.imwrite(folder / f'frame_{t:05d}.png', frame)


def write_release(manual_dir: pathlib.Path):
  for name, num_frames, channel in CLIPS:
    write_clip(manual_dir / sky.FOLDER / name, num_frames, channel)


def expected_video(channel: int) -> np.ndarray:
  video = np.zeros((25, 128, 128, 3), np.uint8)
  for t in range(25):
    video[t, ..., channel] = level(t)
  return video


class SkyTimelapseTest(tfds.testing.DatasetBuilderTestCase):
  """Builds from a generated manual dir holding sky_timelapse/."""

  DATASET_CLASS = sky.Builder
  SPLITS = {'train': 2}

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls._dummy = tempfile.TemporaryDirectory()
    cls.EXAMPLE_DIR = cls._dummy.name  # Used as the manual dir.
    write_release(pathlib.Path(cls._dummy.name))

  @classmethod
  def tearDownClass(cls):
    cls._dummy.cleanup()
    super().tearDownClass()

  def _assertAsDataset(self, builder):
    super()._assertAsDataset(builder)
    examples = list(tfds.as_numpy(builder.as_dataset(split='train')))
    self.assertEqual([ex['video_id'] for ex in examples], [0, 1])
    # Path order: vid_a_1 (green) then vid_b_1 (blue). PNG is lossless and a
    # flat square resizes to itself, so the frames match exactly: the white
    # bands are cropped away and the first 25 frames come in name order.
    np.testing.assert_array_equal(examples[0]['video'], expected_video(1))
    np.testing.assert_array_equal(examples[1]['video'], expected_video(2))


def test_find_clips_lists_image_folders_in_path_order(tmp_path):
  write_release(tmp_path)
  (tmp_path / 'sky_timelapse/sky_train/notes.txt').write_text('not a clip')
  clips = sky.find_clips(tmp_path / 'sky_timelapse')
  assert [(name, len(frames)) for name, frames in clips] == [
      ('sky_test/vid_c/vid_c_1', 25),
      ('sky_train/vid_a/vid_a_1', 30),
      ('sky_train/vid_a/vid_a_2', 10),
      ('sky_train/vid_b/vid_b_1', 25),
  ]
  frames = clips[1][1]
  assert [f.name for f in frames[:2]] == ['frame_00000.png', 'frame_00001.png']


def test_short_clips_are_skipped_and_logged(tmp_path, caplog):
  write_release(tmp_path)
  builder = sky.Builder(data_dir=tmp_path / 'data')
  root = tmp_path / 'sky_timelapse/sky_train'
  examples = list(builder._generate_examples(root))  # pylint: disable=protected-access
  assert [key for key, _ in examples] == [0, 1]
  assert 'skipped 1 clips with fewer than 25 frames' in caplog.text
  assert 'vid_a/vid_a_2 (10 frames)' in caplog.text


def test_unreadable_image_raises_naming_it(tmp_path):
  folder = tmp_path / 'clip'
  write_clip(folder, 3, 1)
  (folder / 'frame_00001.png').write_bytes(b'\x89PNG broken')
  with pytest.raises(ValueError, match='Cannot read image .*frame_00001.png'):
    sky.load_clip(sorted(folder.iterdir()))


@pytest.mark.parametrize('data,problem', [
    (b'', 'frame_00001.png is empty \\(0 bytes\\)'),
    (b'GIF89a but not really', 'Cannot read image .*frame_00001.png: not an image Pillow'),
])
def test_empty_or_foreign_image_says_so(tmp_path, data, problem):
  folder = tmp_path / 'clip'
  write_clip(folder, 3, 1)
  (folder / 'frame_00001.png').write_bytes(data)
  with pytest.raises(ValueError, match=problem) as raised:
    sky.load_clip(sorted(folder.iterdir()))
  assert 'BytesIO' not in str(raised.value)


def test_truncated_image_raises_naming_it(tmp_path):
  folder = tmp_path / 'clip'
  write_clip(folder, 3, 1)
  png = (folder / 'frame_00001.png').read_bytes()
  (folder / 'frame_00001.png').write_bytes(png[:len(png) // 2])
  with pytest.raises(ValueError, match='frame_00001.png: image file is truncated'):
    sky.load_clip(sorted(folder.iterdir()))


def test_frame_of_another_size_names_it(tmp_path):
  folder = tmp_path / 'clip'
  write_clip(folder, 3, 1)
  iio.imwrite(folder / 'frame_00002.png', np.zeros((20, 30, 3), np.uint8))
  first = iio.imread(folder / 'frame_00000.png')
  with pytest.raises(ValueError, match=(
      f'Frame .*frame_00002.png is 30 x 20; the first frame of its clip, '
      f'frame_00000.png, is {first.shape[1]} x {first.shape[0]}')):
    sky.load_clip(sorted(folder.iterdir()))


def test_missing_folder_names_the_expected_path(tmp_path):
  manual = tmp_path / 'manual'
  manual.mkdir()
  (manual / 'something_else').mkdir()
  builder = sky.Builder(data_dir=tmp_path / 'data')
  config = tfds.download.DownloadConfig(manual_dir=manual)
  with pytest.raises(FileNotFoundError, match='manual/sky_timelapse'):
    builder.download_and_prepare(download_config=config)


def test_center_square_640_by_360():
  frame = np.zeros((360, 640, 3), np.uint8)
  frame[:, 140:500] = 9
  square = sky.center_square(frame)
  assert square.shape == (360, 360, 3) and np.all(square == 9)
