"""Tests for the rainbow_jelly builder, on a short .mp4 written by the test."""

import pathlib
import subprocess
import sys
import tempfile
import time

import imageio.v3 as iio
import imageio_ffmpeg
import numpy as np
import pytest
import tensorflow_datasets as tfds

from rainbow_jelly import rainbow_jelly_dataset_builder as rj

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
NUM_FRAMES = 60  # Two clips of 25 and a remainder of 10.


def green_level(t: int) -> int:
  """Green value of source frame t: a ramp, so that frames are told apart."""
  return 60 + 3 * t


def write_video(path: pathlib.Path, num_frames: int = NUM_FRAMES):
  """Writes num_frames of 48 x 80: a green centre square, red side bands.

  The centred 48 x 48 square (columns 16..63) is (0, green_level(t), 0); the
  16-pixel bands left and right of it are pure red, so any red in the output
  means the crop is wrong. Band edges sit on 16-pixel codec blocks.
  """
  frames = np.zeros((num_frames, 48, 80, 3), np.uint8)
  frames[..., 0] = 255
  for t in range(num_frames):
    frames[t, :, 16:64] = (0, green_level(t), 0)
  iio.imwrite(path, frames, plugin='FFMPEG', fps=25, codec='libx264',
              macro_block_size=1, quality=10)


class RainbowJellyTest(tfds.testing.DatasetBuilderTestCase):
  """Builds from a generated manual dir holding rainbow_jelly.mp4."""

  DATASET_CLASS = rj.Builder
  SPLITS = {'train': 2}

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls._dummy = tempfile.TemporaryDirectory()
    cls.EXAMPLE_DIR = cls._dummy.name  # Used as the manual dir.
    write_video(pathlib.Path(cls._dummy.name) / rj.VIDEO_FILENAME)

  @classmethod
  def tearDownClass(cls):
    cls._dummy.cleanup()
    super().tearDownClass()

  def _assertAsDataset(self, builder):
    super()._assertAsDataset(builder)
    examples = list(tfds.as_numpy(builder.as_dataset(split='train')))
    self.assertEqual([ex['video_id'] for ex in examples], [0, 1])
    for clip_id, ex in enumerate(examples):
      video = ex['video'].astype(np.int32)
      self.assertEqual(video.shape, (25, 128, 128, 3))
      self.assertEqual(ex['video'].dtype, np.uint8)
      # The crop removed the red bands everywhere, edges included.
      self.assertLess(video[..., 0].max(), 40)
      self.assertLess(video[..., 2].max(), 40)
      # Clip i holds source frames 25i..25i+24, in order (codec error < 8).
      expected = [green_level(25 * clip_id + t) for t in range(25)]
      mean_green = video[..., 1].mean(axis=(1, 2))
      np.testing.assert_allclose(mean_green, expected, atol=8)


def test_missing_video_names_the_expected_path(tmp_path):
  manual = tmp_path / 'manual'
  manual.mkdir()
  (manual / 'other.mp4').write_bytes(b'')
  builder = rj.Builder(data_dir=tmp_path / 'data')
  config = tfds.download.DownloadConfig(manual_dir=manual)
  with pytest.raises(FileNotFoundError, match='manual/rainbow_jelly.mp4'):
    builder.download_and_prepare(download_config=config)


def test_corrupt_video_raises_naming_the_file(tmp_path):
  path = tmp_path / 'broken.mp4'
  path.write_bytes(b'not a video' * 100)
  with pytest.raises(ValueError, match='Cannot decode video .*broken.mp4'):
    list(rj.iter_clips(str(path)))


def _bad_file(tmp_path, kind) -> pathlib.Path:
  """A rainbow_jelly.mp4 that is not usable, of one kind."""
  path = tmp_path / rj.VIDEO_FILENAME
  if kind == 'folder':
    path.mkdir()
  elif kind == 'empty':
    path.write_bytes(b'')
  elif kind == 'text':
    path.write_text('<html>a web page saved instead of the video</html>\n' * 20)
  elif kind == 'audio':  # An .mp4 with sound only (ffmpeg's own sine source).
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), '-loglevel', 'error', '-f', 'lavfi',
                    '-i', 'sine=frequency=440:duration=1', str(path)], check=True)
  return path


@pytest.mark.parametrize('kind,problem', [
    ('folder', 'is a folder; expected the video file itself'),
    ('empty', r'is empty \(0 bytes\)'),
    ('text', 'Cannot decode video .* after 0 frames: .*Invalid data found'),
    ('audio', 'Cannot decode video .* after 0 frames: it holds no video stream'),
])
def test_bad_files_raise_one_line_naming_file_and_problem(tmp_path, kind, problem):
  path = _bad_file(tmp_path, kind)
  with pytest.raises(ValueError, match=problem) as raised:
    list(rj.iter_clips(str(path)))
  message = str(raised.value)
  assert str(path) in message and '\n' not in message, message   # No ffmpeg banner.
  # Nor in the traceback: no chained exception holding ffmpeg's text.
  error = raised.value
  assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)


def test_truncated_video_is_used_as_far_as_it_decodes_with_a_warning(tmp_path, caplog):
  whole = tmp_path / 'whole.mp4'
  noise = np.random.default_rng(0).integers(0, 256, (100, 32, 32, 3), np.uint8)
  iio.imwrite(whole, noise, plugin='FFMPEG', fps=25, codec='libx264', macro_block_size=1,
              output_params=['-movflags', '+faststart'])   # Index first: cut, it plays.
  data = whole.read_bytes()
  cut = tmp_path / 'cut.mp4'
  cut.write_bytes(data[:len(data) // 2])
  clips = list(rj.iter_clips(str(cut)))
  assert 1 <= len(clips) < 4 and clips[0].shape == (25, 32, 32, 3)
  assert 'cut.mp4 decoded to' in caplog.text and 'announces about 100' in caplog.text


@pytest.mark.large
def test_tfds_build_reports_a_bad_file_without_ffmpeg_output(tmp_path):
  """`tfds build` over an undecodable file: the error names it, no ffmpeg banner."""
  manual = tmp_path / 'manual'
  manual.mkdir()
  _bad_file(manual, 'text')
  command = [
      sys.executable, '-m', 'tensorflow_datasets.scripts.cli.main', 'build',
      'datasets/rainbow_jelly', f'--data_dir={tmp_path / "data"}',
      f'--manual_dir={manual}',
  ]
  result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=300, check=False)
  assert result.returncode != 0
  last = result.stderr.strip().splitlines()[-1]
  assert last.startswith('ValueError: Cannot decode video ')
  assert f'{manual / rj.VIDEO_FILENAME} after 0 frames' in last, last
  assert 'ffmpeg version' not in result.stderr and 'configuration:' not in result.stderr


def test_short_video_raises_with_its_frame_count(tmp_path):
  path = tmp_path / 'short.mp4'
  write_video(path, num_frames=10)
  with pytest.raises(ValueError, match='short.mp4 has 10 frames'):
    list(rj.iter_clips(str(path)))


def test_center_square_takes_columns_140_to_500_of_640():
  frame = np.arange(640, dtype=np.int32)[None, :, None] * np.ones((360, 1, 3),
                                                                 np.int32)
  square = rj.center_square(frame)
  assert square.shape == (360, 360, 3)
  assert (square[0, 0, 0], square[0, -1, 0]) == (140, 499)
  assert rj.center_square(frame.transpose(1, 0, 2)).shape == (360, 360, 3)


def test_resize_frames_keeps_flat_colours_and_averages_stripes():
  flat = np.full((2, 360, 360, 3), 77, np.uint8)
  np.testing.assert_array_equal(rj.resize_frames(flat, 128), 77)
  stripes = np.zeros((1, 360, 360, 3), np.uint8)
  stripes[:, :, ::2] = 200
  out = rj.resize_frames(stripes, 128)
  assert out.shape == (1, 128, 128, 3)
  # Plain bilinear sampling would give 0s and 200s; the antialiasing filter
  # averages the stripes to about 100 (a small ripple remains).
  np.testing.assert_allclose(out[0, 10:-10, 10:-10].astype(float), 100, atol=15)


@pytest.mark.large
def test_tfds_build_command_line(tmp_path):
  """Runs `tfds build datasets/rainbow_jelly` as a user would."""
  manual = tmp_path / 'manual'
  manual.mkdir()
  write_video(manual / rj.VIDEO_FILENAME)
  command = [
      sys.executable, '-m', 'tensorflow_datasets.scripts.cli.main', 'build',
      'datasets/rainbow_jelly', f'--data_dir={tmp_path / "data"}',
      f'--manual_dir={manual}',
  ]
  start = time.monotonic()
  result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=300, check=False)
  print(f'tfds build took {time.monotonic() - start:.1f} s')
  assert result.returncode == 0, result.stderr[-3000:]
  builder = tfds.builder_from_directory(tmp_path / 'data/rainbow_jelly/1.0.0')
  assert builder.info.splits['train'].num_examples == 2
  videos = [ex['video'] for ex in tfds.as_numpy(builder.as_dataset('train'))]
  assert [v.shape for v in videos] == [(25, 128, 128, 3)] * 2
