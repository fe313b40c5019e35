import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from inrv_tf import workdir as workdir_lib
from inrv_tf.data import pipeline
from inrv_tf.data import video_store
from inrv_tf.model import losses
from inrv_tf.train import loop
from inrv_tf.train import step as step_lib
from tests import testing

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _tiny(tfds_dir, **train):
  """A run that takes well under a second per step: tiny model, 8 x 16 x 16 videos."""
  return testing.small_config(
      tfds_dir, data={'frames': 4, 'height': 16, 'width': 16, 'num_videos': 4},
      model={'latent_dim': 8, 'num_frequencies': 3, 'inr_widths': (16, 16),
             'hyper_width': 16},
      train={'steps': 6, **train})


@pytest.fixture(scope='module')
def two_videos_float32(tfds_dir, tmp_path_factory):
  """The small preset on two videos, 300 steps in float32: (workdir, summary, log)."""
  workdir = tmp_path_factory.mktemp('two_videos_float32')
  config = testing.small_config(tfds_dir, data={'num_videos': 2},
                                train={'steps': 300, 'precision': 'float32'})
  logs = []
  summary = loop.run(config, workdir, log=logs.append)
  return workdir, summary, logs


@pytest.mark.large
def test_small_overfits_two_videos(two_videos_float32):
  workdir, summary, logs = two_videos_float32
  # 40.14 dB, SSIM 0.893 on an AMD Zen 3 in a process of its own (43 to 44 dB in others);
  # 39.65 dB on an Intel Xeon with AMX, where oneDNN sums in another order.
  assert summary['psnr'] >= 37.0, summary
  assert summary['ssim'] >= 0.8, summary
  assert summary['num_videos'] == 2 and summary['step'] == 300
  assert any('input wait' in line for line in logs if line.startswith('step '))
  assert json.loads((workdir / 'metrics.json').read_text())['psnr'] == summary['psnr']
  for name in ('video_00000.mp4', 'video_00000.gif', 'video_00000_vs_truth.gif'):
    assert (workdir / 'reconstructions' / name).stat().st_size > 0
  assert any(f.startswith('events') for f in os.listdir(workdir / 'summaries'))


@pytest.mark.large
def test_bfloat16_and_float16_runs_train_to_high_psnr(tfds_dir, tmp_path, two_videos_float32):
  """bfloat16 or float16 hidden layers (float32 first and last) train nearly as far
  as float32 (the same run as test_small_overfits_two_videos).

  Two videos, 300 steps. Measured on an AMD Zen 3: float32 43.4-44.3 dB; bfloat16
  42.86 dB in a process of its own and 39.64 dB inside the whole suite (the same
  config: near 44 dB, bfloat16's rounding makes the last steps' trajectory
  erratic). On an Intel Xeon with AMX, inside the suite: float32 39.65 dB,
  bfloat16 40.62 dB. Early on they agree (20.35 / 20.52 dB after 120 steps). The
  precision of the INR itself is tested exactly in render_test. float16 (its
  gradients scaled chunk by chunk, inr_test) on the Zen 3, in a process of
  its own: 40.62 dB where float32 gave 40.14 dB and bfloat16 40.84 dB.
  """
  psnr = {'float32': two_videos_float32[1]['psnr']}
  for precision in ('bfloat16', 'float16'):
    config = testing.small_config(tfds_dir, data={'num_videos': 2},
                                  train={'steps': 300, 'precision': precision})
    psnr[precision] = loop.run(config, tmp_path / precision, log=lambda _: None)['psnr']
  assert psnr['float32'] > 37.0, psnr
  assert psnr['bfloat16'] > 37.0, psnr
  assert psnr['float16'] > 37.0, psnr


@pytest.mark.parametrize('in_memory', [True, False])
def test_resume_equals_unbroken_run(tfds_dir, tmp_path, monkeypatch, in_memory):
  """Stopped at step 3 and resumed: the same parameters as 6 steps in one go, whether
  the videos come from memory or by random access from disk (a cache limit of 0)."""
  if not in_memory:
    monkeypatch.setattr(video_store, 'CACHE_BYTES', 0)
  config = _tiny(tfds_dir, steps=6)
  config = config.replace(data={'pixel_fraction': 0.5})
  loop.run(config, tmp_path / 'a', log=lambda _: None)
  loop.run(config.replace(train={'steps': 3}), tmp_path / 'b', log=lambda _: None)
  logs = []
  loop.run(config, tmp_path / 'b', log=logs.append)
  assert any('Resumed from' in line and 'at step 3' in line for line in logs)
  _, a = workdir_lib.load_model(tmp_path / 'a')
  _, b = workdir_lib.load_model(tmp_path / 'b')
  assert len(a.variables) == len(b.variables)
  for va, vb in zip(a.variables, b.variables):
    np.testing.assert_allclose(np.array(va), np.array(vb), rtol=1e-6, atol=1e-7,
                               err_msg=va.path)
  # The runs moved the codes (the comparison is not between two untouched inits).
  assert np.abs(a.latents.codes.numpy()).max() > 0.02


def test_scheduled_resume_equals_unbroken_run_and_schedules_may_change(tfds_dir, tmp_path):
  """A warmup + cosine run stopped at step 3 resumes to the same weights as 6 steps in
  one go (the rate is a function of the restored step); a constant-rate run may resume
  with a schedule and back (the rate is not a variable the checkpoint must hold)."""
  config = _tiny(tfds_dir, steps=6, lr_schedule='cosine', warmup_steps=2)
  loop.run(config, tmp_path / 'a', log=lambda _: None)
  loop.run(config.replace(train={'steps': 3}), tmp_path / 'b', log=lambda _: None)
  loop.run(config, tmp_path / 'b', log=lambda _: None)
  _, a = workdir_lib.load_model(tmp_path / 'a')
  _, b = workdir_lib.load_model(tmp_path / 'b')
  for va, vb in zip(a.variables, b.variables):
    np.testing.assert_allclose(np.array(va), np.array(vb), rtol=1e-6, atol=1e-7,
                               err_msg=va.path)
  # The schedule changed the run: a constant rate ends elsewhere.
  loop.run(config.replace(train={'lr_schedule': 'constant', 'warmup_steps': 0}),
           tmp_path / 'c', log=lambda _: None)
  _, c = workdir_lib.load_model(tmp_path / 'c')
  assert np.abs(c.latents.codes.numpy() - a.latents.codes.numpy()).max() > 1e-4
  # constant -> cosine -> constant across resumes.
  logs = []
  loop.run(config.replace(train={'steps': 8}), tmp_path / 'c', log=logs.append)
  loop.run(config.replace(train={'steps': 9, 'lr_schedule': 'constant', 'warmup_steps': 0}),
           tmp_path / 'c', log=logs.append)
  assert sum('Resumed from' in line for line in logs) == 2
  assert workdir_lib.Workdir(tmp_path / 'c').read_config().train.lr_schedule == 'constant'


def test_refuses_workdir_of_another_config(tfds_dir, tmp_path):
  config = _tiny(tfds_dir, steps=1)
  loop.run(config, tmp_path, log=lambda _: None)
  before = (tmp_path / 'config.json').read_text()
  with pytest.raises(loop.WorkdirError, match='latent_dim: saved 8, requested 9'):
    loop.run(config.replace(model={'latent_dim': 9}), tmp_path, log=lambda _: None)
  with pytest.raises(loop.WorkdirError, match='frames: saved 4, requested 3'):
    loop.run(config.replace(data={'frames': 3}), tmp_path, log=lambda _: None)
  assert (tmp_path / 'config.json').read_text() == before


@pytest.mark.parametrize('changes,error,message', [
    ({'data': {'dataset': 'no_such_data'}}, pipeline.DataError, 'Unknown dataset'),
    ({'data': {'frames': 99}}, pipeline.DataError, 'cannot give frames=99'),
    ({'data': {'height': 0}}, ValueError, 'height must be a positive'),
    ({'data': {'num_videos': 1000}}, pipeline.DataError, 'has 64 videos'),
])
def test_bad_inputs_write_nothing(tfds_dir, tmp_path, changes, error, message):
  workdir = tmp_path / 'run'
  with pytest.raises(error, match=message):
    loop.run(_tiny(tfds_dir).replace(**changes), workdir, log=lambda _: None)
  assert not workdir.exists()


def test_workdir_that_is_a_file(tfds_dir, tmp_path):
  path = tmp_path / 'file'
  path.write_text('x')
  with pytest.raises(loop.WorkdirError, match='not a directory'):
    loop.run(_tiny(tfds_dir), path, log=lambda _: None)


@pytest.mark.parametrize('precision', ['float32', 'float16'])
def test_non_finite_loss_stops_and_keeps_last_checkpoint(tfds_dir, tmp_path, monkeypatch,
                                                         precision):
  calls = tf.Variable(0)

  def poisoned(pred, target):   # finite for 4 steps, then NaN
    calls.assign_add(1)
    nan = tf.where(calls > 4, float('nan'), 0.0)
    return losses.l2(pred, target) + nan

  monkeypatch.setattr(losses, 'get', lambda name: poisoned)
  config = _tiny(tfds_dir, steps=10, checkpoint_every=2, precision=precision)
  # Step 5's loss is computed on the state saved as ckpt-4: that state leads into
  # the divergence, so it is moved aside and ckpt-2 is the one to continue from.
  with pytest.raises(loop.NonFiniteLossError, match='at step 5.*ckpt-2.*lower --lr') as info:
    loop.run(config, tmp_path, log=lambda _: None)
  # float16's range is the likelier cause there: the message offers the other precisions.
  assert ('--precision=bfloat16 or float32' in str(info.value)) == (precision == 'float16')
  assert tf.train.latest_checkpoint(str(tmp_path / 'checkpoints')).endswith('ckpt-2')
  assert sorted(p.name for p in (tmp_path / 'diverged').iterdir()) == [
      'ckpt-4.data-00000-of-00001', 'ckpt-4.index']
  _, model = workdir_lib.load_model(tmp_path)
  assert all(np.isfinite(v).all() for v in testing.variables_by_path(model).values())


def test_progressive_stages_take_nested_random_subsets(tfds_dir, tmp_path):
  """Stage videos come from the seeded subsets (data.order), not the first ids."""
  from inrv_tf.data import order
  config = _tiny(tfds_dir, steps=6, progressive=True, stage_max_epochs=(1,), batch_size=2)
  config = config.replace(data={'num_videos': 12})
  seen = []
  original = order.index_batches

  def recording(ids, *args, **kwargs):
    seen.append(sorted(int(i) for i in ids))
    return original(ids, *args, **kwargs)

  import unittest.mock
  with unittest.mock.patch.object(order, 'index_batches', recording):
    loop.run(config, tmp_path, log=lambda _: None)
  stage0 = order.stage_videos(12, 10, 0).tolist()
  assert seen[0] == stage0 and seen[-1] == list(range(12))
  assert stage0 != list(range(10))
  assert json.loads((tmp_path / 'config.json').read_text())['data']['subset_seed'] == 0


def test_progressive_stages(tfds_dir, tmp_path):
  config = _tiny(tfds_dir, steps=14, progressive=True, stage_max_epochs=(2,))
  config = config.replace(data={'num_videos': 12})
  logs = []
  loop.run(config, tmp_path, log=logs.append)
  # Stage 0: 10 videos, 5 steps an epoch, capped at 2 epochs -> stage 1 from step 10.
  assert 'Stage 0: 10 videos from step 0.' in logs
  assert 'Stage 1: 12 videos from step 10.' in logs
  reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(str(tmp_path / 'checkpoints')))
  assert reader.get_tensor('stage/.ATTRIBUTES/VARIABLE_VALUE') == 1
  assert reader.get_tensor('stage_start/.ATTRIBUTES/VARIABLE_VALUE') == 10


def _cli(*args, timeout=180):
  return subprocess.run([sys.executable, '-m', 'inrv_tf.train', *args], cwd=REPO,
                        capture_output=True, text=True, timeout=timeout,
                        env={**os.environ, 'TF_CPP_MIN_LOG_LEVEL': '2'})


def test_cli_clear_errors_and_exit_codes(tfds_dir, tmp_path):
  result = _cli('--dataset=nope', f'--workdir={tmp_path}/a', '--preset=small')
  assert result.returncode == 1
  assert 'error: Unknown dataset' in result.stderr and 'bouncing_balls' in result.stderr
  result = _cli('--dataset=bouncing_balls', f'--workdir={tmp_path}/b', '--preset=small',
                f'--data_dir={tfds_dir}', '--size=-4')
  assert result.returncode == 1 and 'height must be a positive' in result.stderr
  assert not (tmp_path / 'a').exists() and not (tmp_path / 'b').exists()


def _sgd_state(config, strategy):
  """A train state whose optimizer is SGD with rate 1: a step moves every parameter by
  its gradient, so two steps compare gradients (Adam's first step, about lr * sign(g),
  would hide a wrong scale and turn rounding-sized gradients into lr-sized moves)."""
  state = step_lib.create_state(config, strategy)
  state.optimizer = keras.optimizers.SGD(learning_rate=1.0)
  state.optimizer.build(state.model.trainable_variables)
  return state


def _assert_same_gradient(a, b):
  """Two float32 gradients of one variable, equal but for the order of their sums:
  within 0.5% of the largest entry (a sum of terms of both signs keeps the terms'
  absolute rounding: 0.12% seen for a code's gradient on a Xeon with AVX-512), which a
  wrong scale or a missing chunk (9% of these 11) exceeds."""
  assert np.abs(a).max() > 0
  np.testing.assert_allclose(a, b, rtol=1e-3, atol=5e-3 * np.abs(a).max())


@pytest.mark.parametrize('fraction', [1.0, 0.5])
def test_chunked_step_equals_whole_step(tfds_dir, fraction):
  config = _tiny(tfds_dir).replace(model={'num_videos': 3}, train={'batch_size': 3},
                                   data={'pixel_fraction': fraction})
  rng = np.random.default_rng(0)
  batch = {'video': tf.constant(rng.uniform(-1, 1, (3, 4, 16, 16, 3)), tf.float32),
           'video_id': tf.constant([2, 0, 1])}
  results = []
  for chunk in (None, 100):   # 1,024 pixels: 11 chunks, the last one short
    cfg = config.replace(train={'chunk_pixels': chunk})
    strategy = tf.distribute.get_strategy()
    state = _sgd_state(cfg, strategy)
    feats = tf.Variable(state.model.encoded_grid(4, 16, 16), trainable=False)
    before = [np.array(v) for v in state.model.trainable_variables]
    out = step_lib.make_train_step(state, cfg, strategy, feats)(batch)
    results.append((float(out['loss']), float(out['mse']),
                    [b - np.array(v) for b, v in zip(before, state.model.trainable_variables)]))
  assert results[0][0] == pytest.approx(results[1][0], rel=1e-5)
  assert results[0][1] == pytest.approx(results[1][1], rel=1e-5)
  for a, b in zip(results[0][2], results[1][2]):
    _assert_same_gradient(a, b)


def test_pixel_subsets_are_uniform_distinct_and_reproducible():
  """What makes the `fast` preset's subset loss an unbiased estimate of the paper's:
  each step draws distinct pixels, every pixel equally often over steps."""
  num_pixels, steps = 1000, 400
  counts = np.zeros(num_pixels)
  for step in range(steps):
    index = step_lib.sample_pixels(num_pixels, 0.25, 7, step).numpy()
    assert len(index) == 250 and len(np.unique(index)) == 250
    counts[index] += 1
  # Binomial(400, 0.25) per pixel: mean 100, variance 75.
  assert counts.mean() == 100
  assert 60 < counts.var() < 90 and counts.min() > 60 and counts.max() < 140
  np.testing.assert_array_equal(step_lib.sample_pixels(num_pixels, 0.25, 7, 3),
                                step_lib.sample_pixels(num_pixels, 0.25, 7, 3))
  assert not np.array_equal(step_lib.sample_pixels(num_pixels, 0.25, 7, 3),
                            step_lib.sample_pixels(num_pixels, 0.25, 8, 3))


def test_lpips_loss_chunked_equals_whole_and_trains(tfds_dir, tmp_path):
  """L1 + 0.7 LPIPS (random VGG16 weights of the real shapes): the chunked step, which
  pushes LPIPS's pixel gradient back through the INR chunk by chunk, equals the whole
  step; a short run lowers the loss."""
  from inrv_tf.model import lpips as lpips_lib
  weights = testing.write_random_lpips(tmp_path / 'lpips.npz')
  config = _tiny(tfds_dir, lpips_weight=0.7, lpips_weights=weights, loss='l1')
  config = config.replace(model={'num_videos': 2}, train={'batch_size': 2})
  rng = np.random.default_rng(1)
  batch = {'video': tf.constant(rng.uniform(-1, 1, (2, 4, 16, 16, 3)), tf.float32),
           'video_id': tf.constant([1, 0])}
  lpips = lpips_lib.load_lpips(weights)
  results = []
  for chunk in (None, 300):
    cfg = config.replace(train={'chunk_pixels': chunk})
    strategy = tf.distribute.get_strategy()
    state = _sgd_state(cfg, strategy)
    feats = tf.Variable(state.model.encoded_grid(4, 16, 16), trainable=False)
    before = [np.array(v) for v in state.model.trainable_variables]
    out = step_lib.make_train_step(state, cfg, strategy, feats, lpips=lpips)(batch)
    results.append((float(out['loss']),
                    [b - np.array(v) for b, v in zip(before, state.model.trainable_variables)]))
  l1_only = config.replace(train={'lpips_weight': 0.0})
  state = step_lib.create_state(l1_only, tf.distribute.get_strategy())
  feats = tf.Variable(state.model.encoded_grid(4, 16, 16), trainable=False)
  plain = float(step_lib.make_train_step(state, l1_only, tf.distribute.get_strategy(),
                                         feats)(batch)['loss'])
  assert results[0][0] > plain + 1e-3                        # LPIPS adds to the loss
  assert results[0][0] == pytest.approx(results[1][0], rel=1e-5)
  for a, b in zip(results[0][1], results[1][1]):
    _assert_same_gradient(a, b)
  logs = []
  loop.run(config.replace(train={'steps': 30, 'log_every': 10}), tmp_path / 'run',
           log=logs.append)
  losses_seen = [float(line.split()[3]) for line in logs if line.startswith('step ')]
  assert losses_seen[-1] < losses_seen[0], losses_seen


@pytest.mark.large
def test_a_diverged_run_continues_with_a_lower_lr(tfds_dir, tmp_path):
  """lr 1e6 blows the weights up after one step: the state saved then is moved aside
  (it leads into a non-finite loss), and a rerun at --lr=1e-3 trains to a finite loss."""
  workdir = tmp_path / 'run'
  common = ['--dataset=bouncing_balls', '--preset=small', f'--data_dir={tfds_dir}',
            f'--workdir={workdir}', '--num_videos=2', '--frames=4', '--size=16',
            '--checkpoint_every=1', '--log_every=1']
  diverged = _cli(*common, '--lr=1e6', '--steps=6')
  assert diverged.returncode == 1, diverged.stderr[-2000:]
  message = diverged.stderr.strip().splitlines()[-1]
  assert message.startswith('error: ') and 'at step' in message and 'lower --lr' in message
  assert 'Traceback' not in diverged.stderr
  recovered = _cli(*common, '--lr=1e-3', '--steps=6')
  assert recovered.returncode == 0, recovered.stderr[-2000:]
  metrics = json.loads((workdir / 'metrics.json').read_text())
  assert metrics['step'] == 6 and np.isfinite(metrics['psnr'])
  losses_seen = [float(line.split()[3]) for line in recovered.stdout.splitlines()
                 if line.startswith('step ')]
  assert losses_seen and all(np.isfinite(losses_seen))


def test_resume_with_a_new_lr_trains_at_it_and_records_it(tfds_dir, tmp_path):
  config = _tiny(tfds_dir, steps=2)
  loop.run(config, tmp_path, log=lambda _: None)
  logs = []
  loop.run(config.replace(train={'steps': 4, 'lr': 5e-4}), tmp_path, log=logs.append)
  assert any("lr 0.001 -> 0.0005" in line and 'config_history.json' in line for line in logs)
  saved = json.loads((tmp_path / 'config.json').read_text())
  assert saved['train']['lr'] == 5e-4 and saved['train']['steps'] == 4
  history = json.loads((tmp_path / 'config_history.json').read_text())
  assert history[-1]['step'] == 2
  assert history[-1]['changes'] == {'train.lr': [1e-3, 5e-4], 'train.steps': [2, 4]}
  # The optimizer restored from ckpt-4 carries the rate it trained at: the new one.
  reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(str(tmp_path / 'checkpoints')))
  rates = [reader.get_tensor(k) for k in reader.get_variable_to_shape_map()
           if 'learning_rate' in k]
  assert rates and all(float(r) == pytest.approx(5e-4) for r in rates)
  with pytest.raises(loop.WorkdirError, match='loss=.l2.; requested .l1.'):
    loop.run(config.replace(train={'loss': 'l1', 'steps': 6}), tmp_path, log=lambda _: None)


def test_auto_precision_is_resolved_logged_and_recorded(tfds_dir, tmp_path, monkeypatch):
  from inrv_tf.train import distribute
  config = _tiny(tfds_dir, steps=1, precision='auto')
  monkeypatch.setattr(distribute, 'cpu_flags', lambda: {'avx2', 'avx512_bf16'})
  logs = []
  loop.run(config, tmp_path, log=logs.append)
  assert 'Precision: bfloat16 matmuls (auto: CPU avx512_bf16).' in logs
  assert json.loads((tmp_path / 'config.json').read_text())['train']['precision'] == 'bfloat16'
  # The same workdir on a CPU without bfloat16 units resumes in float32, and says so.
  monkeypatch.setattr(distribute, 'cpu_flags', lambda: {'avx2'})
  logs = []
  loop.run(config.replace(train={'steps': 2}), tmp_path, log=logs.append)
  assert any(line.startswith('Precision: float32 matmuls (auto: no avx512_bf16 or AMX') for line in logs)
  history = json.loads((tmp_path / 'config_history.json').read_text())
  assert history[-1]['changes']['train.precision'] == ['bfloat16', 'float32']


@pytest.mark.parametrize('flags, expected', [
    ({'avx2'}, 'float32'), ({'avx2', 'avx512f', 'avx512_bf16'}, 'bfloat16'),
    ({'avx2', 'amx_bf16', 'amx_tile'}, 'bfloat16'), (set(), 'float32')])
def test_resolve_precision_follows_the_cpu_flags(monkeypatch, flags, expected):
  from inrv_tf.train import distribute
  from inrv_tf.train import step as step_lib
  monkeypatch.setattr(distribute, 'cpu_flags', lambda: flags)
  assert distribute.resolve_precision('auto')[0] == expected
  assert step_lib.compute_dtype('auto').name == expected
  assert distribute.resolve_precision('float32') == ('float32', 'as asked')
  # An explicit bfloat16 is kept on any CPU; without AVX-512 the reason warns of the
  # fallback kernel.
  precision, why = distribute.resolve_precision('bfloat16')
  assert precision == 'bfloat16' and why.startswith('as asked')
  assert ('truncates' in why) == ('avx512f' not in flags and expected == 'float32')
  # float16 only when asked for; on a CPU without float16 units the reason says it
  # does not pay there.
  assert distribute.resolve_precision('float16') == (
      'float16', f'as asked; {distribute.CPU_FLOAT16}')
  assert step_lib.compute_dtype('float16') == tf.float16
  monkeypatch.setattr(distribute, 'cpu_flags', lambda: flags | {'avx512_fp16'})
  assert distribute.resolve_precision('float16') == ('float16', 'as asked')


def test_zero_steps_on_a_new_workdir_is_refused_and_writes_nothing(tfds_dir, tmp_path):
  with pytest.raises(loop.WorkdirError, match='--steps=0 and .* holds no checkpoint'):
    loop.run(_tiny(tfds_dir, steps=0), tmp_path / 'new', log=lambda _: None)
  assert not (tmp_path / 'new').exists()
