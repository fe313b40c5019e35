"""The generate, interpolate and invert commands on a tiny trained workdir.

Each command is a subprocess (TensorFlow takes seconds to import), so the
commands of a group start together and the tests then read what they wrote.
"""

import json
import os
import subprocess
import sys

import imageio.v3 as iio
import numpy as np
import pytest

from inrv_tf import workdir as workdir_lib
from inrv_tf.data import pipeline
from inrv_tf import files
from inrv_tf.apps import sampling

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TIMEOUT = 300
pytestmark = pytest.mark.large   # Subprocesses: each imports TensorFlow.


@pytest.fixture(scope='module')
def workdir(apps_workdir):
  """The session's small trained workdir (conftest.py)."""
  return apps_workdir


def _start(module, *args):
  return subprocess.Popen([sys.executable, '-m', f'inrv_tf.{module}', *map(str, args)],
                          cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, env={**os.environ, 'TF_CPP_MIN_LOG_LEVEL': '2'})


def _finish(processes):
  """{name: (returncode, stdout, stderr)} once every process has exited."""
  outputs = {name: p.communicate(timeout=TIMEOUT) for name, p in processes.items()}
  return {name: (p.returncode, *outputs[name]) for name, p in processes.items()}


@pytest.fixture(scope='module')
def runs(workdir, tmp_path_factory, tfds_dir):
  """Runs the successful commands at once; returns (out folder, results)."""
  out = tmp_path_factory.mktemp('apps_cli')
  _, model = workdir_lib.load_model(workdir)
  codes = model.latents.codes.numpy()
  np.save(out / 'a.npy', codes[0])
  np.save(out / 'b.npy', codes[1])
  # A 64 x 64 x 25 file of training video 0 (the dataset's stored size).
  builder = pipeline.get_builder('bouncing_balls', tfds_dir)
  files.write_video(out / 'ball.mp4', next(iter(builder.as_dataset(split='train[:1]')))['video'])
  # A portrait clip for the square model: 8 red rows above and below a green 32 x 32.
  portrait = np.zeros((8, 48, 32, 3), np.uint8)
  portrait[:, :8, :, 0] = portrait[:, 40:, :, 0] = 255
  portrait[:, 8:40, :, 1] = 200
  np.save(out / 'portrait.npy', portrait)
  w = f'--workdir={workdir}'
  results = _finish({
      'slerp': _start('generate', w, f'--out={out}/slerp', '--num_samples=3', '--seed=1'),
      'gaussian': _start('generate', w, f'--out={out}/gauss', '--num_samples=2',
                         '--mode=gaussian', '--frames=12', '--height=48', '--width=40',
                         '--max_pixels=46080'),          # 2 x 12 x 48 x 40: just fits.
      'ids': _start('interpolate', w, f'--out={out}/ids', '--ids=0,1', '--steps=5'),
      'codes': _start('interpolate', w, f'--out={out}/codes', '--steps=3',
                      f'--codes={out}/a.npy,{out}/b.npy'),
      'inpainting': _start('invert', w, f'--out={out}/inp', '--task=inpainting',
                           '--dataset_ids=0,1', '--steps=60'),
      'superres': _start('invert', w, f'--out={out}/sr', '--task=superresolution',
                         f'--video={out}/ball.mp4', '--low_size=16', '--high_size=32',
                         '--steps=60'),
      'portrait': _start('invert', w, f'--out={out}/portrait', f'--video={out}/portrait.npy',
                         '--steps=1'),
  })
  return out, results, codes


def _ok(runs, name):
  code, stdout, stderr = runs[1][name]
  assert code == 0, stderr[-3000:]
  return runs[0]


def test_generate_writes_seeded_samples(runs):
  out = _ok(runs, 'slerp') / 'slerp'
  codes = np.load(out / 'codes.npy')
  np.testing.assert_array_equal(codes, sampling.sample_codes(runs[2], 3, seed=1))
  for i in range(3):
    assert files.read_video(out / f'sample_{i:03d}.mp4').shape == (8, 32, 32, 3)
    assert files.read_video(out / f'sample_{i:03d}.gif').shape == (8, 32, 32, 3)


def test_generate_gaussian_at_a_new_size(runs):
  out = _ok(runs, 'gaussian') / 'gauss'
  np.testing.assert_allclose(np.load(out / 'codes.npy'),
                             sampling.sample_codes(runs[2], 2, 0, 'gaussian'), atol=1e-6)
  assert files.read_video(out / 'sample_001.mp4').shape == (12, 48, 40, 3)


def test_interpolate_between_ids_writes_grid_and_steps(runs):
  out = _ok(runs, 'ids') / 'ids'
  codes = np.load(out / 'codes.npy')
  assert codes.shape == (5, 32)
  np.testing.assert_array_equal(codes[0], runs[2][0])
  np.testing.assert_array_equal(codes[-1], runs[2][1])
  assert files.read_video(out / 'interpolation.mp4').shape == (8, 64, 96, 3)   # 2 x 3 cells
  for i in range(5):
    assert files.read_video(out / f'step_{i:02d}.gif').shape == (8, 32, 32, 3)
  # The first cell of the grid is the first step.
  grid, first = files.read_video(out / 'interpolation.gif'), files.read_video(out / 'step_00.gif')
  assert np.abs(grid[:, :32, :32].astype(int) - first).mean() < 2.0
  # No cell is black: the sixth of the 2 x 3 cells repeats the last step.
  cells = grid.reshape(8, 2, 32, 3, 32, 3).transpose(1, 3, 0, 2, 4, 5).reshape(6, -1)
  assert cells.max(axis=1).min() > 100, cells.max(axis=1)
  last = files.read_video(out / 'step_04.gif')
  assert np.abs(grid[:, 32:, 64:].astype(int) - last).mean() < 2.0


def test_interpolate_between_code_files(runs):
  out = _ok(runs, 'codes') / 'codes'
  np.testing.assert_array_equal(np.load(out / 'codes.npy')[[0, -1]], runs[2][:2])
  assert (out / 'interpolation.gif').stat().st_size > 0


def test_invert_inpainting_writes_files_and_metrics(runs):
  out = _ok(runs, 'inpainting') / 'inp'
  metrics = json.loads((out / 'metrics.json').read_text())
  assert metrics['task'] == 'inpainting' and metrics['steps'] == 60
  assert sorted(metrics['videos']) == ['video_00000', 'video_00001']
  for name, scores in metrics['videos'].items():
    assert scores['psnr'] > 28.0 and scores['context_l1'] < 3.0, scores
    assert scores['steps'] == 60 and scores['seconds'] > 0
    for kind in ('input', 'mask', 'result'):
      assert files.read_video(out / f'{name}_{kind}.mp4').shape == (8, 32, 32, 3)
      assert (out / f'{name}_{kind}.gif').stat().st_size > 0
    assert np.load(out / f'{name}_code.npy').shape == (32,)
  mask = files.read_video(out / 'video_00000_mask.gif')
  assert mask[:, 20:].max() == 0           # The hidden bottom half is black.
  # Side by side: the input as seen (mask), the result, the truth; 8 frames x 3 strips.
  assert files.read_video(out / 'video_00000_side_by_side.mp4').shape == (8, 32, 3 * 32, 3)
  side = files.read_video(out / 'video_00000_side_by_side.gif')
  assert side.shape == (8, 32, 96, 3)
  assert side[:, 20:, :32].max() < 10       # The left panel is the masked input.
  strips = iio.imread(out / 'video_00000_side_by_side.png')
  assert strips.shape == (3 * 64, 8 * 64, 3)   # 32 px frames doubled; seen, result, truth.
  summary = runs[1]['inpainting'][1].strip().splitlines()[-1]
  assert summary.startswith('inpainting: PSNR ') and ' dB, SSIM 0.' in summary, summary
  assert metrics['mean']['psnr'] == pytest.approx(
      np.mean([v['psnr'] for v in metrics['videos'].values()]))


def test_invert_superresolution_reports_bicubic(runs):
  out = _ok(runs, 'superres') / 'sr'
  metrics = json.loads((out / 'metrics.json').read_text())
  scores = metrics['videos']['ball']
  for key in ('psnr', 'ssim', 'context_l1', 'bicubic_psnr', 'bicubic_ssim',
              'psnr_vs_bicubic', 'ssim_vs_bicubic'):
    assert isinstance(scores[key], float), key
  assert scores['psnr'] > 20.0, scores
  assert metrics['low_size'] == 16 and metrics['high_size'] == 32
  assert files.read_video(out / 'ball_input.mp4').shape == (8, 16, 16, 3)
  for kind in ('result', 'truth', 'bicubic'):
    assert files.read_video(out / f'ball_{kind}.mp4').shape == (8, 32, 32, 3)
  # The 16 x 16 input enlarged to 32 x 32, the result, the truth.
  assert files.read_video(out / 'ball_side_by_side.mp4').shape == (8, 32, 96, 3)


def test_invert_crops_a_portrait_clip_to_the_square_and_says_so(runs):
  out = _ok(runs, 'portrait') / 'portrait'
  assert (f'{runs[0]}/portrait.npy is 48 x 32: cropped to its centred 32 x 32 (rows 8-39, '
          'columns 0-31), the aspect of the model\'s 32 x 32, so that resizing does not '
          'squash it.') in runs[1]['portrait'][1]
  shown = files.read_video(out / 'portrait_input.mp4')
  assert shown.shape == (8, 32, 32, 3) and shown[..., 0].max() < 40   # The red is cut off.


# Runs a command module, then writes its peak resident memory (VmHWM, kB) to $HWM_FILE.
# Measured in the child after exec: its rusage would also count the pytest process
# it was forked from.
_MEASURED = '''
import atexit, os, runpy, sys
def _write_peak():
  with open('/proc/self/status') as status, open(os.environ['HWM_FILE'], 'w') as out:
    out.write(next(line for line in status if line.startswith('VmHWM:')).split()[1])
atexit.register(_write_peak)
sys.argv = sys.argv[1:]
runpy.run_module(sys.argv[0], run_name='__main__', alter_sys=True)
'''


def _start_measured(hwm_file, module, *args):
  return subprocess.Popen([sys.executable, '-c', _MEASURED, f'inrv_tf.{module}', *args],
                          cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env={**os.environ, 'TF_CPP_MIN_LOG_LEVEL': '2',
                               'HWM_FILE': str(hwm_file)})


def test_renders_over_the_pixel_budget_are_refused_before_allocating(workdir, tmp_path):
  """16000 x 16000 requests: float32 RGB would need 24 to 393 GB; each command exits
  with one line, its peak memory that of Python and the flags (no TensorFlow)."""
  w = f'--workdir={workdir}'
  budget = 'exceed the budget of --max_pixels={}; raise --max_pixels or render smaller.'
  requests = {
      'generate': (['generate', w, f'--out={tmp_path}/g', '--height=16000', '--width=16000'],
                   '4 videos of 8 x 16000 x 16000 = 8,192,000,000 pixels '
                   + budget.format(100000000)),
      'interpolate': (['interpolate', w, f'--out={tmp_path}/i', '--ids=0,1', '--frames=1000',
                       '--height=1000', '--width=1000'],
                      '8 videos of 1000 x 1000 x 1000 = 8,000,000,000 pixels '
                      + budget.format(100000000)),
      'invert': (['invert', w, f'--out={tmp_path}/v', '--dataset_ids=0', '--size=16000'],
                 '1 video of 8 x 16000 x 16000 = 2,048,000,000 pixels '
                 + budget.format(10000000)),
      'evaluate': (['evaluate', w, '--table=multires', '--sizes=128,16000'],
                   '16 videos of 8 x 16000 x 16000 = 32,768,000,000 pixels '
                   + budget.format(100000000)),
      'small budget': (['generate', w, f'--out={tmp_path}/s', '--max_pixels=32767'],
                       '4 videos of 8 x 32 x 32 = 32,768 pixels ' + budget.format(32767)),
  }
  peaks = tmp_path / 'peaks'
  peaks.mkdir()
  processes = {name: _start_measured(peaks / name, *args)
               for name, (args, _) in requests.items()}
  for name, (code, _, stderr) in _finish(processes).items():
    assert code == 1 and stderr.strip() == f'error: {requests[name][1]}', (name, stderr[-2000:])
    peak_kb = int((peaks / name).read_text())
    assert 10_000 < peak_kb < 200_000, (name, peak_kb)   # Measured: about 32 MB.
  assert sorted(p.name for p in tmp_path.iterdir()) == ['peaks']   # Nothing else written.


def test_bad_input_exits_1_with_a_clear_message(workdir, tmp_path):
  w = f'--workdir={workdir}'
  (tmp_path / 'afile').write_text('x')
  (tmp_path / 'corrupt').mkdir()
  (tmp_path / 'corrupt/config.json').write_text('{"data": {"frames": 8')
  np.save(tmp_path / 'two_channels.npy', np.zeros((8, 32, 32, 2), np.uint8))
  np.save(tmp_path / 'short.npy', np.zeros((4, 32, 32, 3), np.uint8))
  results = _finish({
      'task': _start('invert', w, f'--out={tmp_path}', '--task=painting', '--dataset_ids=0'),
      'workdir': _start('invert', f'--workdir={tmp_path}/none', f'--out={tmp_path}',
                        '--dataset_ids=0'),
      'video': _start('invert', w, f'--out={tmp_path}', f'--video={tmp_path}/none.mp4'),
      'generate': _start('generate', f'--workdir={tmp_path}/none', f'--out={tmp_path}'),
      'ids': _start('interpolate', w, f'--out={tmp_path}', '--ids=0,7'),
      'out': _start('generate', w, f'--out={tmp_path}/afile/out'),
      'eval out': _start('evaluate', w, '--table=reconstruction', f'--out={tmp_path}'),
      'config': _start('generate', f'--workdir={tmp_path}/corrupt', f'--out={tmp_path}/c'),
      'channels': _start('invert', w, f'--out={tmp_path}/n',
                         f'--video={tmp_path}/two_channels.npy'),
      'short': _start('invert', w, f'--out={tmp_path}/n', f'--video={tmp_path}/short.npy'),
  })
  expected = {'task': "error: Unknown task 'painting'; expected one of inversion,",
              'workdir': 'is not an inrv_tf workdir: no config.json',
              'video': f'error: No such video file: {tmp_path}/none.mp4',
              'generate': 'is not an inrv_tf workdir',
              'ids': 'Video id 7 is out of range: the model learned 2 videos',
              'out': f'error: Cannot write to --out {tmp_path}/afile/out: Not a directory.',
              'eval out': f'error: --out {tmp_path} is a folder; give a file name.',
              'config': f'error: {tmp_path}/corrupt/config.json is not a valid inrv_tf config: '
                        'Expecting',
              'channels': f'error: {tmp_path}/two_channels.npy is not a video: decoded shape '
                          '(8, 32, 32, 2)',
              'short': f'error: {tmp_path}/short.npy has 4 frames; this model renders '
                       '8-frame videos, so it needs at least 8.'}
  for name, (code, _, stderr) in results.items():
    assert code == 1, (name, stderr[-2000:])
    assert expected[name] in stderr, (name, stderr[-2000:])
    assert 'Traceback' not in stderr, name
  for name in ('out', 'eval out', 'config'):    # Refused before TensorFlow loads.
    assert results[name][2].strip().startswith('error: '), (name, results[name][2][-2000:])
