"""benchmarks/time_to_quality.py: its JSON lines, the targets, and the saved workdir;
benchmarks/bf16_rounding.py on that workdir."""

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


def _run(*args, script=SCRIPT):
  return subprocess.run([sys.executable, str(script), *args], cwd=REPO, capture_output=True,
                        text=True, timeout=300, env={**os.environ, 'TF_CPP_MIN_LOG_LEVEL': '2'})


@pytest.fixture(scope='module')
def measured(tfds_dir, tmp_path_factory):
  """(the finished run, its workdir): the small preset, 150 steps on 2 videos."""
  workdir = tmp_path_factory.mktemp('measured') / 'wd'
  result = _run('--preset=small', '--dataset=bouncing_balls', f'--data_dir={tfds_dir}',
                '--num_videos=2', '--steps=150', '--eval_every_s=1000000',
                '--targets=2,25,99', f'--workdir={workdir}')
  return result, workdir


def test_reports_quality_over_time_and_saves_the_measured_model(measured):
  result, workdir = measured
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


@pytest.mark.parametrize('schedule', ['--lr_schedule=cosine', '--preset=fast_cosine'])
def test_a_cosine_schedule_needs_its_horizon(tmp_path, schedule):
  result = _run(schedule, f'--workdir={tmp_path / "wd"}')
  assert result.returncode != 0 and 'give --steps' in result.stderr
  assert not (tmp_path / 'wd').exists()


def test_trains_with_onednn_bfloat16_numerics_another_chunk_evaluating_by_steps(tfds_dir):
  result = _run('--preset=small', '--dataset=bouncing_balls', f'--data_dir={tfds_dir}',
                '--num_videos=1', '--steps=5', '--eval_every_steps=2', '--targets=2',
                '--precision=bfloat16', '--bf16_matmul=emulated', '--chunk_pixels=1000')
  assert result.returncode == 0, result.stderr[-3000:]
  start, *evals, end = [json.loads(line) for line in result.stdout.splitlines()]
  assert (start['precision'], start['bf16_matmul'], start['chunk_pixels'],
          start['eval_every_steps']) == ('bfloat16', 'emulated', 1000, 2)
  assert [e['steps'] for e in evals] == [0, 2, 4, 5] and end['steps'] == 5
  assert evals[-1]['psnr'] != evals[0]['psnr']


def test_bf16_rounding_measures_each_rounding_against_float32(measured):
  result, workdir = measured
  assert result.returncode == 0, result.stderr[-3000:]
  result = _run(f'--workdir={workdir}', script=REPO / 'benchmarks' / 'bf16_rounding.py')
  assert result.returncode == 0, result.stderr[-3000:]
  lines = {line['variant']: line for line in map(json.loads, result.stdout.splitlines())}
  assert set(lines) == {'kernel_output', 'float32_emulated', 'in', 'out', 'dy', 'dx', 'dw',
                        'all', 'all_but_in', 'all_but_out', 'all_but_dy', 'all_but_dx',
                        'all_but_dw', 'bfloat16', 'float16', 'float16_unscaled'}
  kernel = lines.pop('kernel_output')
  assert all(line['videos'] == 2 for line in lines.values())
  # The emulation with no rounding is float32; with every rounding, gradients are off
  # by 0.5% (the paper model on real clips) to 4% (this one), not more.
  assert lines['float32_emulated']['grad_rel_error'] < 1e-5
  assert lines['float32_emulated']['render_rms_255'] < 1e-3
  real, emulated = lines['bfloat16'], lines['all']
  assert 1e-4 < emulated['grad_rel_error'] < 0.1
  if kernel['matches_nearest_even'] > 0.99:     # oneDNN: the kernels are the emulation.
    assert real['grad_rel_error'] / 3 < emulated['grad_rel_error'] < real['grad_rel_error'] * 3
  else:                                         # Truncation's bias adds up.
    assert kernel['matches_truncation'] > 0.99
    assert real['grad_rel_error'] > 2 * emulated['grad_rel_error']
  # TensorFlow's float16 matmul sums in float32 and rounds to nearest, on any CPU (as a
  # GPU's float16 tensor cores do).
  assert kernel['float16_matches_nearest_even'] > 0.99
  # float16 keeps 3 more bits of mantissa than bfloat16: its gradients, scaled as
  # training scales them, are closer to float32's than bfloat16's are.
  assert 0 < lines['float16']['grad_rel_error'] < emulated['grad_rel_error'] / 2
  assert lines['float16_unscaled']['grad_rel_error'] > 0
  # Forward roundings change the render; backward ones only the gradient.
  assert lines['in']['render_rms_255'] > 1e-3 and lines['out']['render_rms_255'] > 1e-3
  for backward in ('dy', 'dx', 'dw'):
    assert lines[backward]['render_rms_255'] < 1e-3
    assert lines[backward]['grad_rel_error'] > 1e-6
