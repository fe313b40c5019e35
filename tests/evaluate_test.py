"""Each table command on a tiny trained workdir: JSON structure, numbers re-derived.

The numbers of every table are recomputed here from the metric functions on
independently loaded videos; FVD uses a stand-in I3D (tests/fvd_test.py).
"""

import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from inrv_tf import workdir as workdir_lib
from inrv_tf.data import pipeline
from inrv_tf import config as config_lib
from inrv_tf.evaluate import __main__ as evaluate_cli
from inrv_tf.evaluate import paper_tables
from inrv_tf.apps import inversion
from inrv_tf.model import metrics
from inrv_tf.model import render
from inrv_tf.apps import sampling
from inrv_tf.evaluate import single_inr
from tests import fvd_test

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NEAR = dict(rel=1e-4, abs=1e-4)


@pytest.fixture(scope='module')
def workdir(apps_workdir):
  """The session's small trained workdir (conftest.py)."""
  return apps_workdir


@pytest.fixture(scope='module')
def trained(workdir):
  return workdir_lib.load_model(workdir)


@pytest.fixture(scope='module')
def builder(tfds_dir):
  return pipeline.get_builder('bouncing_balls', tfds_dir)


@pytest.fixture(scope='module')
def i3d(tmp_path_factory):
  directory = tmp_path_factory.mktemp('i3d_standin')
  fvd_test.save_hub_standin(directory)
  return directory


@pytest.fixture(scope='module')
def settings(tmp_path_factory, i3d):
  """Tiny counts: 2 videos, 4 samples, 9-frame FVD, few steps; Table 1 at the training size."""
  return config_lib.EvalSettings(num_videos=2, batch_size=2, single_inr_steps=30,
                                 single_inr_lr=3e-3, i3d=str(i3d), num_samples=4, num_real=2,
                                 fvd_frames=9, fvd_batch_size=4, scales=(2.0,),
                                 inversion_steps=5, sr_low=16, sr_high=32, eval_size=32,
                                 fvd_cache=str(tmp_path_factory.mktemp('fvd_cache')))


def _run(workdir, table, settings, tmp_path, **kwargs):
  """Runs a table; returns (its JSON as written, the printed lines)."""
  lines, out = [], tmp_path / f'{table}.json'
  paper_tables.evaluate(workdir, table, settings, out=out, log=lines.append, **kwargs)
  return json.loads(out.read_text()), lines


def _check_structure(result, table, paper_table, methods):
  assert result['table'] == table and result['paper_table'] == paper_table
  keys = [c['key'] for c in result['columns']]
  assert [r['method'] for r in result['rows']] == methods
  for row in result['rows']:
    assert set(keys) <= set(row)
  assert {'workdir', 'dataset', 'checkpoint', 'options'} <= set(result['settings'])
  return keys


def _videos(builder, ids, frames, size):
  """uint8[N, frames, size, size, 3], loaded without evaluate's loader."""
  ds = builder.as_dataset(split=f'train[{ids[0]}:{ids[-1] + 1}]', shuffle_files=False)
  return np.stack([pipeline.preprocess(ex, frames, size, size)['video'].numpy() for ex in ds])


def _u8(videos):
  return pipeline.to_uint8(videos).numpy()


def _mean_psnr(pred, truth):
  return float(np.mean(metrics.psnr(pred, truth, 255.0)))


# Table 1 ---------------------------------------------------------------------
def test_reconstruction_table(workdir, trained, builder, settings, tmp_path):
  result, lines = _run(workdir, 'reconstruction', settings, tmp_path)
  keys = _check_structure(result, 'reconstruction', 1, ['Single-INR', 'INR-V'])
  assert keys == ['method', 'error_50', 'psnr_50', 'ssim_50', 'psnr_full', 'ssim_full']
  assert result['settings']['comparison_ids'] == [0, 1]
  single, inrv = result['rows']
  config, model = trained
  truth = _videos(builder, [0, 1], 8, 32)
  pred = _u8(render.render_video(model, model.latents.codes, 8, 32, 32))
  assert inrv['psnr_50'] == pytest.approx(_mean_psnr(pred, truth), **NEAR)
  assert inrv['error_50'] == pytest.approx(float(metrics.rmse_error(
      pred.astype(np.float32), truth.astype(np.float32))), **NEAR)
  assert inrv['ssim_50'] == pytest.approx(float(np.mean(metrics.ssim(pred, truth, 255.0))),
                                          **NEAR)
  assert inrv['psnr_50'] > 30.0           # The fixture reconstructs at ~43 dB.
  assert (inrv['psnr_full'], inrv['ssim_full']) == pytest.approx(
      (inrv['psnr_50'], inrv['ssim_50']), **NEAR)   # The whole training set is these 2.
  # Single-INR, refitted the same way (seed 0, 30 steps).
  fit = single_inr.fit_videos(pipeline.to_float(truth).numpy(), model.spec,
                              config.model.num_frequencies, steps=30, lr=3e-3, seed=0)
  refit = _u8(single_inr.render_fit(fit, 8, 32, 32, config.model.num_frequencies))
  assert single['psnr_50'] == pytest.approx(_mean_psnr(refit, truth), rel=1e-3)
  assert single['psnr_full'] is None and single['steps'] == 30
  assert lines[-2].splitlines()[0].startswith('Table 1: reconstruction')
  assert 'Single-INR' in lines[-2] and 'PSNR_FULL' in lines[-2]


# Tables 2 and 4 --------------------------------------------------------------
@pytest.fixture(scope='module')
def fvd_workdir(tmp_path_factory, tfds_dir):
  """FVD takes >= 9 frames (I3D's minimum): a tiny model of 3 videos of 10 x 16 x 16."""
  from inrv_tf.train import loop
  from tests import testing
  workdir = tmp_path_factory.mktemp('fvd_run') / 'run'
  config = testing.small_config(
      tfds_dir, data={'num_videos': 3, 'frames': 10, 'height': 16, 'width': 16},
      train={'steps': 20})
  loop.run(config, workdir, log=lambda _: None)
  return workdir


def _real_clips(builder, draws, frames, size):
  """The drawn clips, cut from independently loaded whole videos."""
  ids, offsets, flips = draws
  videos = {int(ex['video_id']): ex['video'].numpy()
            for ex in builder.as_dataset(split='train[:3]', shuffle_files=False)}
  clips = []
  for i, offset, flip in zip(ids, offsets, flips):
    clip = videos[int(i)][offset:offset + frames]
    clips.append(clip[:, :, ::-1] if flip else clip)
  clips = np.stack(clips)                                                # [N, T, 64, 64, 3]
  resized = tf.image.resize(clips.reshape(-1, 64, 64, 3), [size, size], method='bilinear',
                            antialias=True)
  return np.clip(np.round(resized.numpy()), 0, 255).astype(np.uint8).reshape(
      len(clips), frames, size, size, 3)


def _fvd_run(model, builder, network, size, run, s):
  """One run of the protocol, recomputed from its definition (docs/evaluation.md)."""
  from inrv_tf.evaluate import fvd_tables
  draws = fvd_tables.real_draws(3, s.num_real, 25, s.fvd_frames, seed=run, mirror=s.mirror)
  real = _real_clips(builder, draws, s.fvd_frames, size)
  codes = sampling.sample_codes(sampling.learned_codes(model), s.num_samples, seed=run)
  fake = _u8(render.render_video(model, codes, 10, size, size))[:, :s.fvd_frames]
  return metrics.frechet_distance(*metrics.feature_statistics(network.embed(fake)),
                                  *metrics.feature_statistics(network.embed(real)))


def test_real_draws_follow_the_protocol():
  from inrv_tf.evaluate import fvd_tables
  ids, offsets, flips = fvd_tables.real_draws(100, 40, 25, 16, seed=0, mirror=False)
  assert len(set(ids.tolist())) == 40 and not flips.any()        # No repeats while they last.
  assert offsets.min() >= 0 and offsets.max() <= 9 and len(set(offsets.tolist())) > 3
  ids, _, flips = fvd_tables.real_draws(3, 2048, 25, 16, seed=1, mirror=True)
  assert np.bincount(ids).tolist() in ([683, 683, 682], [683, 682, 683], [682, 683, 683])
  assert 0.45 < flips.mean() < 0.55
  again = fvd_tables.real_draws(3, 2048, 25, 16, seed=1, mirror=True)
  np.testing.assert_array_equal(again[0], ids)
  with pytest.raises(ValueError, match='at least 30 frames'):
    fvd_tables.real_draws(3, 5, 25, 30, seed=0, mirror=False)
  with pytest.raises(ValueError, match='at least 9'):
    config_lib.EvalSettings(fvd_frames=8)


def test_fvd_and_multires_tables(fvd_workdir, builder, settings, i3d, tmp_path):
  from inrv_tf.evaluate import fvd
  network = fvd.load_feature_network(i3d)
  _, model = workdir_lib.load_model(fvd_workdir)
  s = dataclasses.replace(settings, size=32, fvd_runs=2, num_samples=4, num_real=5,
                          mirror=True, fvd_cache=str(tmp_path / 'cache'))
  result, lines = _run(fvd_workdir, 'fvd', s, tmp_path)
  _check_structure(result, 'fvd', 2, ['INR-V'])
  assert [c['header'] for c in result['columns']] == ['Method', 'FVD_9', '+-']
  runs = [_fvd_run(model, builder, network, 32, run, s) for run in (0, 1)]
  row = result['rows'][0]
  assert row['fvd'] == pytest.approx(np.mean(runs), rel=1e-3)
  assert row['fvd_std'] == pytest.approx(np.std(runs), rel=1e-2, abs=1e-3)
  assert result['settings']['sizes'] == [{'size': 32, 'runs': pytest.approx(runs, rel=1e-3)}]
  protocol = result['settings']['protocol']
  assert (protocol['name'], protocol['num_real'], protocol['frames'], protocol['size'],
          protocol['mirror'], protocol['runs']) == ('fvd2048_16f', 5, 9, 32, True, 2)
  assert result['settings']['network'] == network.identity
  assert sum('Cached real-video statistics of 5 videos' in line for line in lines) == 2

  multi, lines = _run(fvd_workdir, 'multires', dataclasses.replace(s, sizes=(16, 32)),
                      tmp_path)
  keys = _check_structure(multi, 'multires', 4, ['INR-V'])
  assert keys == ['method', 'fvd_16', 'fvd_16_std', 'fvd_32', 'fvd_32_std']
  assert multi['rows'][0]['fvd_32'] == pytest.approx(row['fvd'], rel=1e-6)   # Same draws.
  assert np.isfinite(multi['rows'][0]['fvd_16']) and multi['rows'][0]['fvd_16'] > 0.0
  assert sum('from the cache' in line for line in lines) == 2        # Size 32 again.
  assert len(list((tmp_path / 'cache').glob('*.npz'))) == 4          # 2 sizes x 2 runs.


def test_table1_renders_at_eval_size_capped_by_the_data(builder):
  """--eval_size is 128 as in the paper; this dataset stores 64 x 64, so 64."""
  from inrv_tf.evaluate import reconstruction_table
  lines = []
  assert reconstruction_table.table1_size(config_lib.EvalSettings(), builder,
                                          lines.append) == (64, 64)
  assert 'Table 1 at 64 x 64' in lines[0] and '--eval_size=128' in lines[0]
  assert reconstruction_table.table1_size(config_lib.EvalSettings(eval_size=48), builder,
                                          lines.append) == (48, 48)
  assert reconstruction_table.table1_size(config_lib.EvalSettings(size=16), builder,
                                          lines.append) == (16, 16)


# Table 5 ---------------------------------------------------------------------
def test_superres_table(workdir, trained, builder, settings, tmp_path):
  result, _ = _run(workdir, 'superres', settings, tmp_path)
  keys = _check_structure(result, 'superres', 5, ['Bicubic', 'INR-V'])
  assert keys == ['method', 'psnr_2x', 'ssim_2x']
  assert result['settings']['targets'] == [{'scale': 2.0, 'height': 64, 'width': 64}]
  truth = _videos(builder, [0, 1], 8, 64)
  low = _videos(builder, [0, 1], 8, 32)
  up = inversion.resize_frames(low.astype(np.float32), 64, 64, 'bicubic')
  bicubic = np.clip(np.round(up), 0, 255).astype(np.uint8)
  model = trained[1]
  inrv = _u8(render.render_video(model, model.latents.codes, 8, 64, 64))
  rows = {r['method']: r for r in result['rows']}
  assert rows['Bicubic']['psnr_2x'] == pytest.approx(_mean_psnr(bicubic, truth), **NEAR)
  assert rows['INR-V']['psnr_2x'] == pytest.approx(_mean_psnr(inrv, truth), **NEAR)
  assert rows['INR-V']['ssim_2x'] == pytest.approx(
      float(np.mean(metrics.ssim(inrv, truth, 255.0))), **NEAR)


# Table 6 ---------------------------------------------------------------------
def test_inversion_table(workdir, builder, settings, tmp_path):
  def identity(pred, truth):       # A stand-in face model: the clean place for GT/TL/TG-ID.
    return {'gt_id': np.full(len(pred), 0.5), 'tl_id': np.ones(len(pred)),
            'tg_id': np.zeros(len(pred))}

  result, lines = _run(workdir, 'inversion', settings, tmp_path, identity=identity)
  keys = _check_structure(result, 'inversion', 6, ['INR-V'] * 5 + ['Bicubic', 'INR-V'])
  assert keys == ['task', 'method', 'gt_id', 'tl_id', 'tg_id', 'context_l1', 'psnr',
                  'ssim', 'cost_minutes']
  assert [r['task'] for r in result['rows']] == ['Inv.', 'Inp.', 'Pre.', 'Int.', 'Spr.',
                                                 'Sup. 2x', 'Sup. 2x']
  assert result['settings']['ids'] == [2, 3]                    # After the 2 trained videos.
  rows = result['rows']
  for row in rows:
    assert (row['gt_id'], row['tl_id'], row['tg_id']) == (0.5, 1.0, 0.0)
  for row in rows[:5] + rows[6:]:
    assert 0.0 < row['context_l1'] < 100.0 and row['cost_minutes'] > 0.0
  for row in rows[1:4]:                       # No single right answer: no PSNR/SSIM.
    assert row['psnr'] is None and row['ssim'] is None
  assert rows[5]['context_l1'] is None and rows[5]['cost_minutes'] is None
  # Bicubic from the area-downsampled 16 x 16 input, against the 32 x 32 truth.
  truth = _videos(builder, [2, 3], 8, 32)
  low = inversion.resize_frames(truth.astype(np.float32), 16, 16, 'area')
  low = np.clip(np.round(low), 0, 255)
  up = np.clip(np.round(inversion.resize_frames(low, 32, 32, 'bicubic')), 0, 255)
  assert rows[5]['psnr'] == pytest.approx(_mean_psnr(up.astype(np.uint8), truth), **NEAR)
  assert 'Table 6: inversion of 2 held-out videos' in lines[-2]


# The command line --------------------------------------------------------------
def _command(*args, env=None):
  return subprocess.Popen([sys.executable, '-m', 'inrv_tf.evaluate', *map(str, args)],
                          cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, env={**os.environ, 'TF_CPP_MIN_LOG_LEVEL': '2',
                                          **(env or {})})


@pytest.fixture(scope='module', autouse=True)
def command_without_i3d(workdir, tmp_path_factory):
  """Starts `--table=fvd` without --i3d and with an empty cache folder (so no network
  that `fetch_i3d` wrote is found; TensorFlow takes seconds to import);
  test_command_line reads what it printed."""
  empty = tmp_path_factory.mktemp('empty_cache')
  process = _command(f'--workdir={workdir}', '--table=fvd', '--fvd_frames=9',
                     env={'XDG_CACHE_HOME': str(empty)})
  yield process
  if process.poll() is None:          # Only if a test failed before collecting it.
    process.kill()


def test_command_line(command_without_i3d):
  stdout, stderr = command_without_i3d.communicate(timeout=300)
  assert command_without_i3d.returncode == 1 and 'error: FVD needs the I3D network' in stderr
  assert 'i3d-kinetics-400' in stderr and '--i3d=' in stderr and not stdout
  assert 'python -m inrv_tf.fetch_i3d' in stderr


def test_flags_give_settings():
  from absl import flags
  flag_values = flags.FlagValues()
  evaluate_cli.define_flags(flag_values)
  flag_values(['evaluate', '--workdir=W', '--table=superres', '--scales=2,3.6',
               '--sizes=64,128', '--nosingle_inr', '--num_videos=7', '--i3d=/m'])
  s = evaluate_cli.settings_from_flags(flag_values)
  assert (s.scales, s.sizes, s.single_inr, s.num_videos, s.i3d) == (
      (2.0, 3.6), (64, 128), False, 7, '/m')
  assert dataclasses.replace(s, scales=(2.0, 3.0, 3.6), sizes=(128, 256, 360),
                             single_inr=True, num_videos=None, i3d=None) == config_lib.EvalSettings()


def test_unknown_table_and_bad_settings_are_refused(workdir):
  with pytest.raises(ValueError, match='Unknown table'):
    paper_tables.evaluate(workdir, 'speed')
  with pytest.raises(ValueError, match='--batch_size must be positive'):
    paper_tables.evaluate(workdir, 'superres', config_lib.EvalSettings(batch_size=0))
  with pytest.raises(pipeline.DataError, match='Scale 3 needs 96 x 96 ground truth'):
    paper_tables.evaluate(workdir, 'superres', config_lib.EvalSettings(scales=(2.0, 3.0)))


def test_superresolution_side_is_at_most_the_stored_side(builder, settings):
  from inrv_tf.evaluate import inversion_table
  lines = []
  stored = pipeline.video_shape(builder)[1]                         # 64: the small config.
  wide = dataclasses.replace(settings, sr_low=32, sr_high=128)
  assert inversion_table.superres_side(wide, builder, lines.append) == stored
  assert lines == [f'Superresolution 32 -> {stored}: the dataset stores {stored} x {stored} '
                   'videos (--sr_high=128 needs truth of that size).']
  assert inversion_table.superres_side(settings, builder, lines.append) == 32   # As asked.
  with pytest.raises(pipeline.DataError, match='--sr_low=64 needs truth larger'):
    inversion_table.superres_side(dataclasses.replace(wide, sr_low=stored), builder, print)
