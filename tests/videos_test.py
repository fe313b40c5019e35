"""`python -m inrv_tf.train --videos=DIR`: your own videos, built once, then trained on.

The folder is the one datasets/video_folder's tests write (video_folder/testing.py): a
landscape and a portrait .mp4 of 10 and 13 frames, a 9-frame .gif and a 10-frame folder of
PNGs (9 clips of 4 frames), plus an empty .mp4, a text file named .mp4, a truncated .mp4
and a 3-frame .mp4, which are skipped.
"""

import importlib
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from inrv_tf import config as config_lib
from inrv_tf.data import pipeline
from inrv_tf.data import video_folder

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# datasets/ on sys.path, as `tfds build` and get_builder put it: the folder's test helpers.
pipeline.builder_module(pipeline.datasets_dir() / 'video_folder')
vf_testing = importlib.import_module('video_folder.testing')

TRAIN = ('--preset=small', '--frames=4', '--size=16')


def _run(module, *args):
  result = subprocess.run([sys.executable, '-m', f'inrv_tf.{module}', *map(str, args)],
                          cwd=REPO, capture_output=True, text=True, timeout=600,
                          env={**os.environ, 'TF_CPP_MIN_LOG_LEVEL': '2'})
  return result, result.stdout + result.stderr


def _errors(result) -> list[str]:
  return [line for line in result.stderr.splitlines() if line.startswith('error:')]


@pytest.mark.large
def test_train_on_videos_builds_once_reuses_and_generates(tmp_path):
  videos, data, work = tmp_path / 'videos', tmp_path / 'data', tmp_path / 'work'
  vf_testing.write_folder(videos)
  _, _, builder_config = video_folder.folder_config(str(videos), 4, 128)
  name = builder_config.name
  assert name == f'f4_s128_st1_{builder_config.source_digest}'

  result, log = _run('train', f'--videos={videos}', *TRAIN, '--steps=30',
                     f'--workdir={work}', f'--data_dir={data}')
  assert result.returncode == 0, log[-3000:]
  assert 'Videos: building 4-frame clips of 128 x 128' in log
  assert 'built 9 clips from 4 of 8 files; skipped 4' in log
  for path, words in vf_testing.BAD.items():
    assert f'  {path}: ' in log and words in log, path
  config = json.loads((work / 'config.json').read_text())['data']
  assert (config['dataset'], config['data_dir']) == (f'video_folder/{name}', str(data))
  records = list((data / 'video_folder' / name / '1.0.0').glob('*.tfrecord*'))
  stamps = [(p.name, p.stat().st_mtime_ns) for p in records]
  first = json.loads((work / 'metrics.json').read_text())
  assert (first['step'], first['num_videos']) == (30, 9)
  assert first['psnr'] > 14.0  # Measured 17.8 dB.

  # The same folder again, trained further: the clips are reused, not rebuilt.
  result, log = _run('train', f'--videos={videos}', *TRAIN, '--steps=60',
                     f'--workdir={work}', f'--data_dir={data}')
  assert result.returncode == 0, log[-3000:]
  assert 'Videos: reusing' in log and 'Videos: building' not in log
  assert [(p.name, p.stat().st_mtime_ns) for p in records] == stamps
  second = json.loads((work / 'metrics.json').read_text())
  assert second['step'] == 60 and second['psnr'] > first['psnr'] + 3  # Measured 26.4 dB.

  # The other commands find the clips through config.json.
  result, log = _run('generate', f'--workdir={work}', f'--out={tmp_path / "out"}',
                     '--num_samples=1')
  assert result.returncode == 0, log[-3000:]
  assert np.load(tmp_path / 'out/codes.npy').shape == (1, 32)
  assert (tmp_path / 'out/sample_000.mp4').stat().st_size > 0

  # A changed folder is other data: this workdir refuses it before building anything.
  shutil.copy(videos / 'anim.gif', videos / 'anim2.gif')
  result, _ = _run('train', f'--videos={videos}', *TRAIN, '--steps=90',
                   f'--workdir={work}', f'--data_dir={data}')
  assert result.returncode == 1 and len(_errors(result)) == 1
  assert f'trained on video_folder/{name}' in _errors(result)[0]
  assert [p.name for p in (data / 'video_folder').iterdir() if p.name[0] != '.'] == [name]


@pytest.mark.large
def test_bad_folders_fail_with_one_error_line(tmp_path):
  work = tmp_path / 'work'
  result, _ = _run('train', f'--videos={tmp_path / "nowhere"}', f'--workdir={work}')
  assert result.returncode == 1 and _errors(result) == [
      f'error: --videos={tmp_path / "nowhere"}: {tmp_path / "nowhere"} does not exist.']
  vf_testing.write_bad_files(tmp_path / 'bad')
  result, _ = _run('train', f'--videos={tmp_path / "bad"}', *TRAIN, f'--workdir={work}',
                   f'--data_dir={tmp_path / "data"}')
  assert result.returncode == 1 and len(_errors(result)) == 1
  assert 'every one of the 4 files was skipped' in _errors(result)[0]
  listed = result.stderr[result.stderr.index('error:'):].splitlines()[1:]
  assert sorted(line.split(':')[0].strip() for line in listed) == sorted(vf_testing.BAD)
  assert not work.exists()
  assert not list((tmp_path / 'data').rglob('dataset_info.json'))


def test_a_changed_folder_builds_again(tmp_path):
  videos, logs = tmp_path / 'videos', []
  vf_testing.frame_folder(videos / 'clip', 8)
  config = config_lib.small().replace(data={'data_dir': str(tmp_path / 'data'), 'frames': 4})
  first = video_folder.use_videos(config, str(videos), log=logs.append)
  again = video_folder.use_videos(config, str(videos), log=logs.append)
  assert first.data.dataset == again.data.dataset
  assert [line.split(' ')[1] for line in logs] == ['building', 'built', 'reusing']
  (videos / 'clip/008.png').write_bytes((videos / 'clip/000.png').read_bytes())
  changed = video_folder.use_videos(config, str(videos), log=logs.append)
  assert changed.data.dataset != first.data.dataset
  assert logs[-2].startswith('Videos: building')
  builder = pipeline.get_builder(changed.data.dataset, str(tmp_path / 'data'))
  assert (pipeline.num_examples(builder), pipeline.video_shape(builder)) == (
      2, (4, 128, 128, 3))
  with pytest.raises(pipeline.DataError, match='trained on video_folder/'):
    video_folder.use_videos(config, str(videos), saved_dataset=first.data.dataset)
