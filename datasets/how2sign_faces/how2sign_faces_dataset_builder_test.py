"""Tests for the how2sign_faces builder, on a small tar made by the test."""

import pathlib
import tarfile
import tempfile

import imageio.v3 as iio
import numpy as np
import pytest
import tensorflow_datasets as tfds

from how2sign_faces import how2sign_faces_dataset_builder as h2s

# Archive members: (path, frames, RGB of the flat frames; each video has its
# own colour, brightened by 2 per frame so that frame order shows).
FOLDERS = [
    ('How2Sign-Blobs/a_signer', 30, (160, 40, 40)),
    ('How2Sign-Blobs/b_short', 10, (40, 40, 160)),  # Too short.
    ('How2Sign-Blobs/deep/f_signer', 25, (120, 120, 120)),
]
VIDEOS = [
    ('How2Sign-Blobs/c_signer.mp4', 30, (40, 160, 40)),
    ('How2Sign-Blobs/d_signer.mp4', 60, (160, 160, 40)),
]
USABLE = [  # In path order: the ids of an unsampled build.
    'How2Sign-Blobs/a_signer', 'How2Sign-Blobs/c_signer.mp4',
    'How2Sign-Blobs/d_signer.mp4', 'How2Sign-Blobs/deep/f_signer',
]
COLOURS = {name: colour for name, _, colour in FOLDERS + VIDEOS}


def frames_of(num_frames: int, colour, shape=(48, 48)) -> np.ndarray:
  frames = np.empty((num_frames, *shape, 3), np.uint8)
  for t in range(num_frames):
    frames[t] = np.array(colour) + 2 * t
  return frames


def write_archive(tar_path: pathlib.Path, work: pathlib.Path):
  """Writes How2Sign-Blobs.tar: folders of PNGs, .mp4 files, a broken .mp4."""
  for name, num_frames, colour in FOLDERS:
    (work / name).mkdir(parents=True)
    for t, frame in enumerate(frames_of(num_frames, colour, (40, 48))):
      iio.imwrite(work / name / f'{t:04d}.png', frame)
  for name, num_frames, colour in VIDEOS:
    iio.imwrite(work / name, frames_of(num_frames, colour), plugin='FFMPEG',
                fps=25, codec='libx264', macro_block_size=1, quality=10)
  (work / 'How2Sign-Blobs/e_broken.mp4').write_bytes(b'not a video' * 50)
  with tarfile.open(tar_path, 'w') as tar:
    tar.add(work / 'How2Sign-Blobs', arcname='How2Sign-Blobs')


class How2SignFacesTest(tfds.testing.DatasetBuilderTestCase):
  """Builds a 3-video draw from the 4 usable videos of the test archive."""

  DATASET_CLASS = h2s.Builder
  BUILDER_CONFIG_NAMES_TO_TEST = [
      h2s.How2SignFacesConfig(name='draw_3', num_videos=3, seed=0)
  ]
  SPLITS = {'train': 3}
  SKIP_CHECKSUMS = True  # The tar's checksum is not registered yet.

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls._dummy = tempfile.TemporaryDirectory()
    cls.EXAMPLE_DIR = cls._dummy.name
    root = pathlib.Path(cls._dummy.name)
    (root / 'work').mkdir()
    cls.tar_path = root / 'How2Sign-Blobs.tar'
    write_archive(cls.tar_path, root / 'work')

  @classmethod
  def tearDownClass(cls):
    cls._dummy.cleanup()
    super().tearDownClass()

  def _get_dl_extract_result(self, url):
    assert url == h2s.URL
    # Extract with TFDS's own extractor, as a real download would.
    dl_manager = tfds.download.DownloadManager(
        download_dir=self.dummy_data / 'downloads'
    )
    return dl_manager.extract(self.tar_path)

  def _assertAsDataset(self, builder):
    super()._assertAsDataset(builder)
    examples = list(tfds.as_numpy(builder.as_dataset(split='train')))
    self.assertEqual([ex['video_id'] for ex in examples], [0, 1, 2])
    chosen = np.sort(np.random.default_rng(0).choice(4, 3, replace=False))
    for ex, index in zip(examples, chosen):
      video = ex['video'].astype(np.int32)
      self.assertEqual(video.shape, (25, 128, 128, 3))
      # Flat frames: the video's colour plus 2 per frame (mp4 error <= 8).
      expected = frames_of(25, COLOURS[USABLE[index]], (1, 1))
      np.testing.assert_allclose(video, np.broadcast_to(expected, video.shape),
                                 atol=8)


def test_find_sources_lists_folders_and_video_files_by_path(tmp_path):
  write_archive(tmp_path / 'x.tar', tmp_path)
  sources = h2s.find_sources(tmp_path / 'How2Sign-Blobs')
  names = [(s.name, len(s.frames), s.file is not None) for s in sources]
  assert names == [
      ('a_signer', 30, False), ('b_short', 10, False),
      ('c_signer.mp4', 0, True), ('d_signer.mp4', 0, True),
      ('deep/f_signer', 25, False), ('e_broken.mp4', 0, True),
  ]
  assert h2s.count_frames(sources[3], 25) == 25  # Stops at 25 of 60 frames.
  with pytest.raises(ValueError, match='Cannot decode video .*e_broken.mp4'):
    h2s.count_frames(sources[5], 25)


def test_all_usable_videos_kept_below_num_videos_and_rejects_logged(
    tmp_path, caplog
):
  write_archive(tmp_path / 'x.tar', tmp_path)
  builder = h2s.Builder(data_dir=tmp_path / 'data')  # num_videos=10,000.
  examples = list(builder._generate_examples(tmp_path))  # pylint: disable=protected-access
  assert [key for key, _ in examples] == [0, 1, 2, 3]
  for (_, ex), name in zip(examples, USABLE):
    assert ex['video'].shape == (25, 128, 128, 3)
    np.testing.assert_allclose(ex['video'][0, 64, 64], COLOURS[name], atol=8)
  assert 'skipped 2 videos' in caplog.text
  assert 'How2Sign-Blobs/b_short (10 frames)' in caplog.text
  assert 'How2Sign-Blobs/e_broken.mp4 (Cannot decode video' in caplog.text


def test_select_indices():
  np.testing.assert_array_equal(h2s.select_indices(4, 10_000, 0), [0, 1, 2, 3])
  chosen = h2s.select_indices(50_000, 10_000, 0)
  assert len(chosen) == 10_000 and len(set(chosen)) == 10_000
  assert np.all(np.diff(chosen) > 0) and chosen[-1] < 50_000
  np.testing.assert_array_equal(
      chosen,
      np.sort(np.random.default_rng(0).choice(50_000, 10_000, replace=False)),
  )


@pytest.mark.parametrize('kwargs', [dict(num_videos=0), dict(seed=-1)])
def test_config_rejects_bad_values(kwargs):
  with pytest.raises(ValueError):
    h2s.How2SignFacesConfig(name='bad', **kwargs)
