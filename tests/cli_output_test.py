"""What a command line prints and leaves behind, in a new user's environment.

`python -m inrv_tf.train` on a tiny run (timed line by line, unbuffered as on a
terminal): no TensorFlow start-up noise, progress lines with an ETA, a closing
line, an exit within seconds of it, and the end-of-training pictures. Then
`generate` with and without --verbose.
"""

import json
import os
import subprocess
import sys
import threading
import time

import imageio.v3 as iio
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TIMEOUT = 600
# What a default run must not show (TensorFlow's start-up, CUDA on a CPU machine, TFDS).
NOISE = ('cuInit', 'oneDNN custom operations', 'cudart', 'absl::InitializeLog',
         'is deprecated', 'Instructions for updating')
pytestmark = pytest.mark.large   # Subprocesses: each imports TensorFlow.


def _user_env(**extra):
  """The tests' environment as a user's shell has it: no TF_CPP_MIN_LOG_LEVEL of ours."""
  env = {k: v for k, v in os.environ.items() if k != 'TF_CPP_MIN_LOG_LEVEL'}
  return {**env, 'PYTHONUNBUFFERED': '1', **extra}


def _timed_run(*args):
  """(returncode, [(seconds, stdout line)], stderr, seconds at exit) of `python -m ARGS`."""
  start = time.monotonic()
  process = subprocess.Popen([sys.executable, '-m', *map(str, args)], cwd=REPO,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=_user_env())
  stderr = []
  reader = threading.Thread(target=lambda: stderr.append(process.stderr.read()))
  reader.start()
  lines = [(time.monotonic() - start, line.rstrip('\n')) for line in process.stdout]
  process.wait(timeout=TIMEOUT)
  exited = time.monotonic() - start
  reader.join()
  return process.returncode, lines, stderr[0], exited


@pytest.fixture(scope='module')
def training(tfds_dir, tmp_path_factory):
  workdir = tmp_path_factory.mktemp('cli_output') / 'run'
  code, lines, stderr, exited = _timed_run(
      'inrv_tf.train', '--dataset=bouncing_balls', f'--data_dir={tfds_dir}', '--preset=small',
      '--steps=30', '--num_videos=2', '--frames=4', '--size=16', '--log_every=10',
      f'--workdir={workdir}')
  assert code == 0, stderr[-3000:]
  return workdir, lines, stderr, exited


def test_training_exits_promptly_after_its_last_line(training):
  _, lines, _, exited = training
  # Before the fix: up to 60 s (tf.data's autotuning thread) + 2-9 s (interpreter exit).
  assert exited - lines[-1][0] < 10.0, (exited, lines[-1])


def test_a_default_run_shows_no_start_up_noise(training):
  _, lines, stderr, _ = training
  shown = stderr + '\n'.join(line for _, line in lines)
  for noise in NOISE:
    assert noise not in shown, (noise, shown[:3000])


def test_progress_lines_carry_elapsed_time_and_eta_and_a_closing_line(training):
  _, lines, _, _ = training
  steps = [line for _, line in lines if line.startswith('step ')]
  assert [line.split()[1] for line in steps] == ['10/30', '20/30', '30/30']
  for line in steps:
    words = line.split()
    assert float(words[3]) > 0 and 'input wait' in line           # The fields of before.
    assert words[-4] == 'elapsed' and words[-2] == 'ETA', line
    assert len(words[-1].split(':')) == 3                          # H:MM:SS
  assert steps[-1].endswith('ETA 0:00:00')
  last = lines[-1][1]
  assert last.startswith('Trained 30 steps in 0:0') and '; reconstruction PSNR ' in last, last
  assert ' dB, SSIM 0.' in last


def test_training_leaves_a_montage_and_the_curves(training):
  workdir = training[0]
  montage = iio.imread(workdir / 'reconstructions' / 'montage.png')
  # 2 videos x (truth, reconstruction) x 16 px x4 + a 2 px gap; 4 frames of 16 px x4.
  assert montage.shape == (2 * 2 * 64 + 2, 4 * 64, 3)
  assert iio.imread(workdir / 'training_curves.png').shape[:2] == (600, 800)
  curves = json.loads((workdir / 'training_curves.json').read_text())
  assert curves['step'] == [10, 20, 30] and len(curves['psnr']) == 3
  for name in ('video_00000.mp4', 'video_00001_vs_truth.gif'):   # As before.
    assert (workdir / 'reconstructions' / name).stat().st_size > 0


def test_verbose_shows_what_the_default_hides(training, tmp_path):
  workdir = training[0]
  runs = {flag: subprocess.Popen(
      [sys.executable, '-m', 'inrv_tf.generate', f'--workdir={workdir}', '--num_samples=2',
       f'--out={tmp_path / (flag or "quiet")}', *([flag] if flag else [])],
      cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
      env=_user_env(TF_ENABLE_ONEDNN_OPTS='1')) for flag in ('', '--verbose')}
  out = {flag: p.communicate(timeout=TIMEOUT) + (p.returncode,) for flag, p in runs.items()}
  stdout, stderr, code = out['']
  assert code == 0 and stdout.startswith('Wrote 2 slerp samples'), stderr
  assert not any(noise in stderr for noise in NOISE), stderr
  stdout, stderr, code = out['--verbose']
  assert code == 0, stderr
  assert 'oneDNN custom operations are on' in stderr     # TensorFlow's own start-up line.
