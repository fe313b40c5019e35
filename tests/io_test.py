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


# Streaming writes ------------------------------------------------------------
@pytest.mark.parametrize('suffix', ['.mp4', '.gif'])
def test_streaming_write_equals_whole_write(tmp_path, suffix):
  """40 frames appended 7 at a time (6 parts) make the very file one write makes."""
  rng = np.random.default_rng(0)
  video = np.concatenate([_video(t=20, h=48, w=64),
                          rng.integers(0, 256, (20, 48, 64, 3), np.uint8)])
  files.write_video(tmp_path / f'whole{suffix}', video, fps=5)
  with files.VideoWriter(tmp_path / f'parts{suffix}', fps=5) as writer:
    for start in range(0, 40, 7):
      writer.append(video[start:start + 7])
  assert (tmp_path / f'parts{suffix}').read_bytes() == (tmp_path / f'whole{suffix}').read_bytes()
  whole, parts = files.read_video(tmp_path / f'whole{suffix}'), files.read_video(
      tmp_path / f'parts{suffix}')
  assert parts.shape == (40, 48, 64, 3)
  np.testing.assert_array_equal(parts, whole)
  assert sorted(p.name for p in tmp_path.iterdir()) == [f'parts{suffix}', f'whole{suffix}']


def test_odd_sides_make_a_valid_mp4(tmp_path):
  """yuv420p cannot hold 15 x 17 frames (libx264 wrote an empty file): 4:4:4 can."""
  video = _video(t=5, h=15, w=17)
  files.write_video(tmp_path / 'odd.mp4', video)
  back = files.read_video(tmp_path / 'odd.mp4')
  assert back.shape == (5, 15, 17, 3)
  assert np.abs(back.astype(int) - video).mean() < 3


def test_failed_streaming_write_leaves_nothing(tmp_path):
  with pytest.raises(RuntimeError, match='render failed'):
    with files.VideoWriter(tmp_path / 'v.mp4') as writer:
      writer.append(_video())
      raise RuntimeError('render failed')
  with pytest.raises(ValueError, match=r'frames of \[32, 40, 3\] after frames of \[32, 48, 3\]'):
    with files.VideoWriter(tmp_path / 'v.gif') as writer:
      writer.append(_video())
      writer.append(_video(w=40))
  assert os.listdir(tmp_path) == []


def test_written_files_get_0666_less_the_umask(tmp_path):
  old = os.umask(0o027)
  try:
    files.write_json(tmp_path / 'metrics.json', {'a': 1})
    files.write_video(tmp_path / 'v.gif', _video())
  finally:
    os.umask(old)
  assert (tmp_path / 'metrics.json').stat().st_mode & 0o777 == 0o640
  assert (tmp_path / 'v.gif').stat().st_mode & 0o777 == 0o640
  files.write_text(tmp_path / 'config.json', '{}')
  assert (tmp_path / 'config.json').stat().st_mode & 0o777 == 0o666 & ~old


def test_temporary_names_name_their_writer(tmp_path):
  with files.atomic_path(tmp_path / 'metrics.json') as tmp:
    name = os.path.basename(tmp)
    assert name.startswith(f'.metrics.json.tmp-{files.host_tag()}-{os.getpid()}-')
    assert name.endswith('.json') and len(name) == len(f'.metrics.json.tmp-{files.host_tag()}-'
                                                        f'{os.getpid()}-12345678.json')
    assert files.temp_owner(name) == (files.host_tag(), os.getpid())
  for other in ('metrics.json', '.bashrc', '.a.mp4.12345678.mp4', 'a.mp4.tmp-h-1-12345678.mp4'):
    assert files.temp_owner(other) is None, other


# Reading errors --------------------------------------------------------------
def test_decode_error_is_one_line_without_ffmpeg_output(tmp_path):
  bad = tmp_path / 'bad.mp4'
  bad.write_bytes(b'not a video at all' * 10)
  with pytest.raises(files.VideoFileError) as raised:
    files.read_video(bad)
  message = str(raised.value)
  # ffmpeg 9's two messages, without its banner, configuration and library versions.
  assert message.startswith(f'Cannot decode video {bad}: ') and 'moov atom not found' in message
  assert '\n' not in message and 'ffmpeg version' not in message, message


@pytest.mark.parametrize('array,message', [
    (np.zeros((8, 16, 16, 2), np.uint8), r'is not a video: decoded shape \(8, 16, 16, 2\)'),
    (np.zeros((8, 16), np.uint8), r'is not a video: decoded shape \(8, 16\)'),
    (np.zeros((8, 16, 16, 3), np.float32), 'decodes to float32; expected uint8'),
])
def test_npy_of_the_wrong_shape_or_type_names_the_file(tmp_path, array, message):
  path = tmp_path / 'clip.npy'
  np.save(path, array)
  with pytest.raises(files.VideoFileError, match=f'^{path}.* {message}'):
    files.read_video(path)


@pytest.mark.parametrize('suffix', ['.mp4', '.gif', '.npy'])
def test_read_video_max_frames_reads_the_first_frames(tmp_path, suffix):
  video, path = _video(t=9), tmp_path / f'v{suffix}'
  if suffix == '.npy':
    np.save(path, video)
  else:
    files.write_video(path, video)
  first = files.read_video(path, max_frames=4)
  assert first.shape == (4, 32, 48, 3)
  np.testing.assert_array_equal(first, files.read_video(path)[:4])
  assert files.read_video(path, max_frames=50).shape == (9, 32, 48, 3)


# Output checks ---------------------------------------------------------------
def test_check_writable_dir(tmp_path):
  assert files.check_writable_dir(tmp_path / 'a/b') == tmp_path / 'a/b'
  assert (tmp_path / 'a/b').is_dir() and os.listdir(tmp_path / 'a/b') == []  # No probe left.
  (tmp_path / 'file').write_text('x')
  with pytest.raises(files.OutputError, match=f'^--out {tmp_path}/file exists and is not a '
                                              'folder.$'):
    files.check_writable_dir(tmp_path / 'file')
  with pytest.raises(files.OutputError, match=f'^Cannot write to --out {tmp_path}/file/sub: '
                                              'Not a directory.$'):
    files.check_writable_dir(tmp_path / 'file/sub')
  with pytest.raises(files.OutputError, match=f'^--out {tmp_path}/a is a folder; give a file'):
    files.check_writable_file(tmp_path / 'a')


@pytest.mark.parametrize('text,problem', [
    ('', 'Expecting value: line 1 column 1'),
    ('{"data": {"frames": 8', 'Expecting'),
    ('[1, 2]', 'expected a JSON object of sections, got list'),
    ('{"data": [1]}', '"data" must be a JSON object, got \\[1\\]'),
    ('{"data": {"frames": "eight"}}', 'data.frames must be an integer, got "eight"'),
    ('{"data": {"frames": 8.5}}', 'data.frames must be an integer, got 8.5'),
    ('{"model": {"inr_widths": null}}', 'model.inr_widths must be a list of numbers, got null'),
    ('{"train": {"steps": "many"}}', 'train.steps must be an integer, got "many"'),
    ('{"data": {"frames": -3}}', 'frames must be a positive integer, got -3'),
    ('{"data": {"framez": 3}}', "Unknown DataConfig fields: \\['framez'\\]"),
])
def test_corrupt_config_json_names_the_file(tmp_path, text, problem):
  (tmp_path / 'config.json').write_text(text)
  with pytest.raises(workdir_lib.WorkdirError,
                     match=f'^{tmp_path}/config.json is not a valid inrv_tf config: {problem}'):
    workdir_lib.read_config(tmp_path)
  (tmp_path / 'config.json').write_bytes(b'\xff\xfe{')
  with pytest.raises(workdir_lib.WorkdirError, match="config.json is not a valid .* 'utf-8'"):
    workdir_lib.read_config(tmp_path)
