"""tf.distribute: MirroredStrategy on two logical CPUs, and two-process multi-worker.

Logical devices must be configured before TensorFlow runs any op, so each case
runs in a fresh Python process.
"""

import json
import os
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tests import testing

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = {**os.environ, 'TF_CPP_MIN_LOG_LEVEL': '2', 'PYTHONPATH': REPO}

PRELUDE = textwrap.dedent('''
    import json, os, sys
    import numpy as np
    import tensorflow as tf
    cpu = tf.config.list_physical_devices('CPU')[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from absl import logging
    logging.set_verbosity(logging.ERROR)
    from inrv_tf import config as config_lib
    from inrv_tf.train import loop
    from inrv_tf.train import step as step_lib
    from inrv_tf import workdir as workdir_lib
    from tests import testing
''')


def _python(code, timeout=240, env=None):
  result = subprocess.run([sys.executable, '-c', code], cwd=REPO, env=env or ENV,
                          capture_output=True, text=True, timeout=timeout)
  assert result.returncode == 0, result.stderr[-3000:]
  return result.stdout


def _tiny_config(tfds_dir, **train):
  return dict(data={'frames': 4, 'height': 16, 'width': 16, 'num_videos': 2,
                    'data_dir': tfds_dir},
              model={'latent_dim': 8, 'num_frequencies': 3, 'inr_widths': (16, 16),
                     'hyper_width': 16},
              train={'steps': 4, 'log_every': 1000, 'checkpoint_every': 1000,
                     'summary_videos': 0, **train})


PRECISIONS = ('float32', 'float16')


@pytest.fixture(scope='module')
def step_results(tfds_dir):
  """One step of 4 videos per precision, under the default and a mirrored strategy,
  all in one process (one TensorFlow start-up): {precision: {strategy: results}}."""
  out = _python(PRELUDE + textwrap.dedent(f'''
      rng = np.random.default_rng(0)
      batch = {{'video': tf.constant(rng.uniform(-1, 1, (4, 4, 16, 16, 3)), tf.float32),
               'video_id': tf.constant([3, 0, 2, 1], tf.int32)}}
      results = {{}}
      for precision, tiny in {[(p, _tiny_config(tfds_dir, precision=p)) for p in PRECISIONS]!r}:
        cfg = config_lib.small().replace(**tiny)
        cfg = cfg.replace(model={{'num_videos': 4}}, train={{'batch_size': 4}})
        results[precision] = {{}}
        for name, strategy in [('default', tf.distribute.get_strategy()),
                               ('mirrored', tf.distribute.MirroredStrategy(['/cpu:0', '/cpu:1']))]:
          state = step_lib.create_state(cfg, strategy)
          with strategy.scope():
            feats = tf.Variable(state.model.encoded_grid(4, 16, 16), trainable=False)
          step = step_lib.make_train_step(state, cfg, strategy, feats)
          dist = strategy.experimental_distribute_dataset(
              tf.data.Dataset.from_tensors(batch))
          out = step(next(iter(dist)))
          results[precision][name] = dict(
              loss=float(out['loss']), replicas=strategy.num_replicas_in_sync,
              precision=cfg.train.precision,
              variables=[np.array(v.values[0] if hasattr(v, 'values') else v).tolist()
                         for v in state.model.trainable_variables])
      print(json.dumps(results))
  '''))
  return json.loads(out.strip().splitlines()[-1])


@pytest.mark.parametrize('precision', PRECISIONS)
def test_mirrored_step_equals_default_step(step_results, precision):
  """float16 too: each video's gradient scale is its own, wherever the video runs."""
  results = step_results[precision]
  assert results['mirrored']['precision'] == results['default']['precision'] == precision
  assert results['mirrored']['replicas'] == 2 and results['default']['replicas'] == 1
  assert results['mirrored']['loss'] == pytest.approx(results['default']['loss'], rel=1e-5)
  moved = 0
  for a, b in zip(results['default']['variables'], results['mirrored']['variables']):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    moved += 1
  assert moved == 1 + 2 * 2 + 2 * 6   # codes, 2 hidden layers, 6 heads


def test_mirrored_run_trains_and_resumes(tfds_dir, tmp_path):
  out = _python(PRELUDE + textwrap.dedent(f'''
      cfg = config_lib.small().replace(**{_tiny_config(tfds_dir)!r})
      strategy = tf.distribute.MirroredStrategy(['/cpu:0', '/cpu:1'])
      wd = {str(tmp_path)!r}
      loop.run(cfg.replace(train={{'steps': 2}}), wd + '/b', strategy, log=lambda _: None)
      logs = []
      s = loop.run(cfg, wd + '/b', strategy, log=logs.append)
      loop.run(cfg, wd + '/a', tf.distribute.get_strategy(), log=lambda _: None)
      _, a = workdir_lib.load_model(wd + '/a')
      _, b = workdir_lib.load_model(wd + '/b')
      diff = max(float(np.abs(np.array(x) - np.array(y)).max())
                 for x, y in zip(a.trainable_variables, b.trainable_variables))
      print(json.dumps(dict(resumed=any('Resumed' in l for l in logs), step=s['step'],
                            diff=diff)))
  '''))
  result = json.loads(out.strip().splitlines()[-1])
  assert result['resumed'] and result['step'] == 4
  # Two videos per global batch: every step sees both, in either order, on either
  # device, so mirrored-with-a-resume and one device agree to float tolerance.
  assert result['diff'] < 1e-5


def test_mirrored_uncached_resume_equals_one_device(tfds_dir, tmp_path):
  """Four videos, batch 2, read by random access: the replicas split each global
  batch by index, so a mirrored run stopped and resumed equals one device's."""
  out = _python(PRELUDE + textwrap.dedent(f'''
      from inrv_tf.data import video_store
      video_store.CACHE_BYTES = 0
      cfg = config_lib.small().replace(**{_tiny_config(tfds_dir, steps=6)!r})
      cfg = cfg.replace(data={{'num_videos': 4}})
      strategy = tf.distribute.MirroredStrategy(['/cpu:0', '/cpu:1'])
      wd = {str(tmp_path)!r}
      loop.run(cfg.replace(train={{'steps': 3}}), wd + '/b', strategy, log=lambda _: None)
      loop.run(cfg, wd + '/b', strategy, log=lambda _: None)
      loop.run(cfg, wd + '/a', tf.distribute.get_strategy(), log=lambda _: None)
      _, a = workdir_lib.load_model(wd + '/a')
      _, b = workdir_lib.load_model(wd + '/b')
      diff = max(float(np.abs(np.array(x) - np.array(y)).max())
                 for x, y in zip(a.trainable_variables, b.trainable_variables))
      moved = float(np.abs(np.array(a.latents.codes)).max())
      print(json.dumps(dict(diff=diff, moved=moved)))
  '''))
  result = json.loads(out.strip().splitlines()[-1])
  assert result['diff'] < 1e-5 and result['moved'] > 0.02, result


def _free_port():
  with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    return s.getsockname()[1]


@pytest.mark.large
def test_two_worker_run_agrees_with_one_process(tfds_dir, tmp_path):
  ports = [_free_port(), _free_port()]
  cluster = {'worker': [f'127.0.0.1:{p}' for p in ports]}
  args = [sys.executable, '-m', 'inrv_tf.train', '--dataset=bouncing_balls', '--preset=small',
          f'--data_dir={tfds_dir}', '--num_videos=2', '--frames=4', '--size=16',
          '--steps=5', '--log_every=1', '--strategy=multi_worker']
  procs = []
  for index in range(2):
    env = {**ENV, 'TF_CONFIG': json.dumps({'cluster': cluster,
                                           'task': {'type': 'worker', 'index': index}})}
    procs.append(subprocess.Popen(args + [f'--workdir={tmp_path}/multi'], cwd=REPO, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
  outputs = []
  try:
    for p in procs:
      outputs.append(p.communicate(timeout=300)[0])
  finally:
    for p in procs:
      p.kill()
  assert all(p.returncode == 0 for p in procs), outputs[0][-2000:] + outputs[1][-2000:]
  assert 'step 5/5' in outputs[0]
  single = subprocess.run([a for a in args if 'strategy' not in a] + [
      '--strategy=default', f'--workdir={tmp_path}/single'], cwd=REPO, env=ENV,
      capture_output=True, text=True, timeout=300)
  assert single.returncode == 0, single.stderr[-2000:]
  metrics = [json.loads((tmp_path / n / 'metrics.json').read_text()) for n in ('multi', 'single')]
  assert metrics[0]['step'] == metrics[1]['step'] == 5
  assert metrics[0]['psnr'] == pytest.approx(metrics[1]['psnr'], abs=1e-3)
  from inrv_tf import workdir as workdir_lib
  _, multi = workdir_lib.load_model(tmp_path / 'multi')
  _, single = workdir_lib.load_model(tmp_path / 'single')
  for a, b in zip(multi.trainable_variables, single.trainable_variables):
    # The small preset's lr, 5 steps; a different batch or order moves most weights
    # by about lr (1e-3) in the wrong direction, far beyond 5% of them at rtol 1e-3.
    testing.assert_close_after_adam(np.array(a), np.array(b), 1e-3, rtol=1e-3, atol=1e-5,
                                    steps=5, max_flipped=0.05)
  assert not any(n.startswith('.scratch') for n in os.listdir(tmp_path / 'multi'))
