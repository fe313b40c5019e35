import json
import os

import numpy as np
import pytest

from inrv_tf import config as config_lib
from inrv_tf import files
from inrv_tf import workdir as workdir_lib


def _video(t=6, h=32, w=48):
  # Flat colour blocks survive lossy coding well enough for tight checks.
  video = np.zeros((t, h, w, 3), np.uint8)
  video[:, :, : w // 2] = [200, 40, 40]
  video[:, :, w // 2:] = [30, 180, 90]
  video[::2, : h // 2] = [250, 250, 250]
  return video


@pytest.mark.parametrize('suffix,tolerance', [('.mp4', 12), ('.gif', 12), ('.npy', 0)])
def test_video_round_trip(tmp_path, suffix, tolerance):
  video = _video()
  path = tmp_path / f'v{suffix}'
  if suffix == '.npy':
    np.save(path, video)
  else:
    files.write_video(path, video, fps=5)
  back = files.read_video(path)
  assert back.shape == video.shape and back.dtype == np.uint8
  assert np.abs(back.astype(int) - video).mean() <= tolerance / 4
  # Away from block edges, colours are kept within the codec's error.
  np.testing.assert_allclose(back[:, 20:, 4:20], video[:, 20:, 4:20], atol=tolerance)
  assert [p.name for p in tmp_path.iterdir()] == [path.name]   # no temp files left


def test_read_errors(tmp_path):
  with pytest.raises(files.VideoFileError, match='No such video file'):
    files.read_video(tmp_path / 'missing.mp4')
  bad = tmp_path / 'bad.mp4'
  bad.write_bytes(b'not a video at all')
  with pytest.raises(files.VideoFileError, match='Cannot decode video .*bad.mp4'):
    files.read_video(bad)
  with pytest.raises(ValueError, match='uint8'):
    files.write_video(tmp_path / 'x.mp4', np.zeros((2, 4, 4, 3), np.float32))


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
  path = tmp_path / 'm.json'
  files.write_json(path, {'a': 1})
  with pytest.raises(TypeError):
    files.write_json(path, {'a': object()})
  assert json.loads(path.read_text()) == {'a': 1}
  assert os.listdir(tmp_path) == ['m.json']


def test_config_round_trip(tmp_path):
  config = config_lib.small().replace(model={'num_videos': 3})
  workdir = workdir_lib.Workdir(tmp_path)
  workdir.write_config(config)
  assert workdir.read_config() == config
  assert (tmp_path / 'config.json').is_file()
  with pytest.raises(FileNotFoundError, match='not an inrv_tf workdir'):
    workdir_lib.read_config(tmp_path / 'nothing')
