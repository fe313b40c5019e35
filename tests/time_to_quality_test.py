"""benchmarks/time_to_quality.py: its JSON lines, the targets, and the saved workdir."""

import json
import os
import pathlib
import subprocess
import sys

import pytest

from inrv_tf import workdir as workdir_lib
from inrv_tf.evaluate import reconstruction_table
from inrv_tf.data import pipeline

REPO = pathlib.Path(__file__).resolve().parent.parent
SCRIPT = REPO / 'benchmarks' / 'time_to_quality.py'


def _run(*args):
  return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=REPO, capture_output=True,
                        text=True, timeout=300, env={**os.environ, 'TF_CPP_MIN_LOG_LEVEL': '2'})


def test_reports_quality_over_time_and_saves_the_measured_model(tfds_dir, tmp_path):
  workdir = tmp_path / 'wd'
  result = _run('--preset=small', '--dataset=bouncing_balls', f'--data_dir={tfds_dir}',
                '--num_videos=2', '--steps=150', '--eval_every_s=1000000',
                '--targets=2,25,99', f'--workdir={workdir}')
  assert result.returncode == 0, result.stderr[-3000:]
  lines = [json.loads(line) for line in result.stdout.splitlines()]
  start, first, last, end = lines
  assert start['event'] == 'start' and start['videos'] == 2 and start['cpu']
  assert start['precision'] in ('float32', 'bfloat16') and start['precision_why']
  assert (first['steps'], first['seconds']) == (0, 0.0)
  assert last['steps'] == end['steps'] == 150 and last['seconds'] > 0
  assert last['psnr'] > first['psnr'] + 10        # 150 steps of the small preset learn.
  reached = end['time_to']
  assert reached['2'] == {'seconds': 0.0, 'steps': 0}     # Even the untrained model.
  assert reached['25'] == ({'seconds': last['seconds'], 'steps': 150}
                           if last['psnr'] >= 25 else None)
  assert reached['99'] is None
  # The workdir holds the model as measured at the last evaluation.
  config, model = workdir_lib.load_model(workdir)
  assert config.train.steps == 150 and config.model.num_videos == 2
  builder = pipeline.get_builder(config.data.dataset, config.data.data_dir)
  again = reconstruction_table.reconstruction_quality(model, builder, config)
  assert dict(again)['psnr'] == pytest.approx(last['psnr'], abs=1e-3)


def test_an_existing_workdir_is_refused_before_training(tmp_path):
  result = _run(f'--workdir={tmp_path}')
  assert result.returncode != 0 and 'exists; give a new folder' in result.stderr


def test_a_cosine_schedule_needs_its_horizon(tmp_path):
  result = _run('--lr_schedule=cosine', f'--workdir={tmp_path / "wd"}')
  assert result.returncode != 0 and 'give --steps' in result.stderr
  assert not (tmp_path / 'wd').exists()
