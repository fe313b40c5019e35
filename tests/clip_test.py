"""Video-CLIP: the CLIP encoder module, the embedding cache, the GRU branch, training.

The real ViT-B/32 weights cannot be downloaded here: a tiny randomly initialised
keras-cv CLIPImageEncoder (1 block, width 64, 32 x 32 input, 512-wide output,
the real output width) is saved to a .weights.h5 file and loaded through the
real route, `clip_encoder.load_clip_encoder`.
"""

import dataclasses
import os
import pathlib
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from inrv_tf import workdir as workdir_lib
from inrv_tf.data import batches
from inrv_tf.data import clip_cache
from inrv_tf.data import clip_encoder
from inrv_tf import config as config_lib
from inrv_tf.data import pipeline as data_lib
from inrv_tf.apps import inversion
from inrv_tf.model import inrv as model_lib
from inrv_tf.model import render
from inrv_tf.apps import sampling
from inrv_tf.train import loop
from tests import testing

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = {'input_resolution': 32, 'patch_size': 16, 'width': 64, 'num_layers': 1,
        'heads': 1, 'output_dim': 512}
TRAIN_STEPS = 150
# The small run's last loss is under its first / LOSS_FACTOR (measured: 0.764 at
# step 1, 0.0103 at step 150, a factor of 74, on 2 shared CPU cores).
LOSS_FACTOR = 30
RESUME_STEPS = 10


def _save_tiny_tower(path, seed: int) -> str:
  keras.utils.set_random_seed(seed)
  clip_encoder.make_image_tower(TINY).save_weights(str(path))
  return str(path)


@pytest.fixture(scope='module')
def cli_no_weights(tmp_path_factory):
  """`python -m inrv_tf.train --clip` without --clip_weights, started first
  (TensorFlow takes seconds to import) and awaited by its test."""
  workdir = tmp_path_factory.mktemp('clip_cli') / 'run'
  process = subprocess.Popen(
      [sys.executable, '-m', 'inrv_tf.train', '--clip', '--preset=small',
       f'--workdir={workdir}', '--steps=1'], cwd=REPO, stdout=subprocess.PIPE,
      stderr=subprocess.PIPE, text=True, env={**os.environ, 'TF_CPP_MIN_LOG_LEVEL': '2'})
  yield process, workdir
  if process.poll() is None:   # Its test was not run.
    process.kill()
    process.communicate()


@pytest.fixture(scope='module')
def weights(tmp_path_factory, cli_no_weights):
  del cli_no_weights   # Only started early.
  folder = tmp_path_factory.mktemp('clip_weights')
  return {'a': _save_tiny_tower(folder / 'a.weights.h5', seed=1),
          'b': _save_tiny_tower(folder / 'b.weights.h5', seed=2)}


@pytest.fixture(scope='module')
def encoder(weights):
  return clip_encoder.load_clip_encoder(weights['a'])


@pytest.fixture(scope='module')
def other_encoder(weights):
  return clip_encoder.load_clip_encoder(weights['b'])


@pytest.fixture()
def data_dir(tfds_dir, tmp_path):
  """A private copy of the prepared dataset: each test starts without a cache."""
  shutil.copytree(tfds_dir, tmp_path / 'tfds',
                  ignore=shutil.ignore_patterns(clip_cache.CACHE_DIR))
  return str(tmp_path / 'tfds')


def _data(data_dir, **changes):
  return dataclasses.replace(config_lib.small().data, data_dir=data_dir, **changes)


class CountingEncoder:
  """The encoder with its embed calls counted (and optionally failing at call k)."""

  def __init__(self, encoder, fail_at: int | None = None):
    self.encoder, self.calls, self.fail_at = encoder, 0, fail_at
    self.fingerprint, self.output_dim = encoder.fingerprint, encoder.output_dim

  def embed(self, frames, batch_size=64):
    self.calls += 1
    if self.calls == self.fail_at:
      raise KeyboardInterrupt('interrupted build')
    return self.encoder.embed(frames, batch_size)


def _direct_embeddings(encoder, builder, data, num_videos) -> np.ndarray:
  videos = np.concatenate([b['video'].numpy() for b in data_lib.eval_dataset(
      builder, data, num_videos, batch_size=num_videos)])          # [N, T, H, W, 3]
  flat = encoder.embed(videos.reshape((-1,) + videos.shape[2:]))     # [N * T, 512]
  return flat.reshape(videos.shape[:2] + (-1,))


# ------------------------------------------------------------- clip_encoder
def test_preprocess_is_clips_transform():
  gray = np.full([2, 8, 32, 3], 128, np.uint8)
  gray[:, :, :8] = (255, 0, 0)     # Left and right quarters fall outside the centre crop.
  gray[:, :, 24:] = (0, 0, 255)
  eager = clip_encoder.preprocess(gray, 32).numpy()
  in_data = next(iter(tf.data.Dataset.from_tensors(gray).map(
      lambda x: clip_encoder.preprocess(x, 32)))).numpy()
  mean, std = np.array(clip_encoder.CLIP_MEAN), np.array(clip_encoder.CLIP_STD)
  expected = (128 / 255 - mean) / std
  assert eager.shape == (2, 32, 32, 3)
  np.testing.assert_allclose(eager, np.broadcast_to(expected, eager.shape), atol=1e-6)
  np.testing.assert_allclose(in_data, eager, atol=1e-6)


def test_weights_file_loads_with_architecture_and_fingerprint(weights, encoder,
                                                              other_encoder, tmp_path):
  assert encoder.architecture == TINY
  assert encoder.output_dim == 512
  moved = shutil.copy(weights['a'], tmp_path / 'moved.weights.h5')
  assert clip_encoder.load_clip_encoder(str(moved)).fingerprint == encoder.fingerprint
  assert other_encoder.fingerprint != encoder.fingerprint
  frames = np.random.RandomState(0).randint(0, 256, [3, 20, 28, 3]).astype(np.uint8)
  direct = encoder.model(clip_encoder.preprocess(frames, 32)).numpy()
  np.testing.assert_allclose(encoder.embed(frames, batch_size=2), direct, atol=1e-5)


def test_preset_directory_of_a_whole_clip(tmp_path, monkeypatch):
  """A keras-cv CLIP preset folder: its image tower is found and loaded."""
  from keras_cv.src.models.feature_extractor.clip import clip_model
  # keras_cv.models.CLIP refuses to build without keras-nlp, which only its
  # tokenizer needs: a stand-in lets the test build a tiny whole CLIP.
  monkeypatch.setattr(clip_model, 'keras_nlp', object())
  keras.utils.set_random_seed(3)
  clip = clip_model.CLIP(embed_dim=512, image_resolution=32, vision_layers=1,
                         vision_width=64, vision_patch_size=16, context_length=8,
                         vocab_size=50, transformer_width=32, transformer_heads=1,
                         transformer_layers=1)
  (tmp_path / 'config.json').write_text('{"registered_name": "keras_cv>CLIP"}')
  clip.save_weights(str(tmp_path / 'model.weights.h5'))
  encoder = clip_encoder.load_clip_encoder(str(tmp_path))
  frames = np.random.RandomState(1).randint(0, 256, [2, 32, 32, 3]).astype(np.uint8)
  direct = clip.get_layer('image_encoder')(clip_encoder.preprocess(frames, 32)).numpy()
  np.testing.assert_allclose(encoder.embed(frames), direct, atol=1e-5)


@pytest.mark.parametrize('spec', [None, '', '/no/such/clip.weights.h5', 'no-such-preset',
                                  'clip-vit-base-patch32', 'DIR'])
def test_unloadable_weights_say_how_to_supply_them(spec, tmp_path, monkeypatch):
  from keras_cv.src.models.feature_extractor.clip import clip_model
  monkeypatch.setattr(clip_model, 'keras_nlp', None)   # As installed here.
  spec = str(tmp_path) if spec == 'DIR' else spec      # A folder without weights.
  with pytest.raises(clip_encoder.ClipWeightsError, match='--clip_weights='):
    clip_encoder.load_clip_encoder(spec)


def test_cli_clip_without_weights_exits_1_with_the_message(cli_no_weights):
  process, workdir = cli_no_weights
  _, stderr = process.communicate(timeout=300)
  assert process.returncode == 1, stderr
  assert 'error: Video-CLIP (--clip) needs the weights' in stderr
  assert '--clip_weights=' in stderr
  assert not workdir.exists()   # Nothing written.


# --------------------------------------------------------------- clip_cache
def test_cache_is_computed_once_and_equals_direct_computation(encoder, data_dir):
  builder = data_lib.get_builder('bouncing_balls', data_dir)
  data = _data(data_dir)
  counting, lines = CountingEncoder(encoder), []
  first = clip_cache.load_embeddings(counting, builder, data, 4, log=lines.append,
                                     shard_videos=2)
  assert counting.calls == 2                          # One batch of frames per shard.
  assert first.shape == (4, 8, 512)
  assert any('CLIP embeddings: 4/4 videos' in line for line in lines)
  again = clip_cache.load_embeddings(counting, builder, data, 4, log=lines.append,
                                     shard_videos=2)
  assert counting.calls == 2                          # Read from disk, not recomputed.
  direct = _direct_embeddings(encoder, builder, data, 4)
  np.testing.assert_allclose(np.asarray(first), direct, atol=1e-5)
  np.testing.assert_array_equal(np.asarray(again), np.asarray(first))
  np.testing.assert_array_equal(again[np.array([3, 0])], np.asarray(first)[[3, 0]])
  folder = clip_cache.cache_dir(builder, data, encoder.fingerprint)
  assert folder.parent == pathlib.Path(data_dir) / 'inrv_clip_cache'


def test_interrupted_build_resumes_with_the_missing_shards_only(encoder, data_dir):
  builder = data_lib.get_builder('bouncing_balls', data_dir)
  data = _data(data_dir)
  with pytest.raises(KeyboardInterrupt):
    clip_cache.load_embeddings(CountingEncoder(encoder, fail_at=2), builder, data, 4,
                               log=lambda _: None, shard_videos=2)
  folder = clip_cache.cache_dir(builder, data, encoder.fingerprint)
  assert sorted(p.name for p in folder.glob('shard_*')) == ['shard_0000000_0000002.npy']
  counting = CountingEncoder(encoder)
  resumed = clip_cache.load_embeddings(counting, builder, data, 4, log=lambda _: None,
                                       shard_videos=2)
  assert counting.calls == 1
  np.testing.assert_allclose(np.asarray(resumed),
                             _direct_embeddings(encoder, builder, data, 4), atol=1e-5)


def test_cache_key_changes_with_weights_and_data(encoder, other_encoder, data_dir):
  builder = data_lib.get_builder('bouncing_balls', data_dir)
  data = _data(data_dir)
  clip_cache.load_embeddings(encoder, builder, data, 2, log=lambda _: None)
  other = CountingEncoder(other_encoder)
  assert (clip_cache.cache_dir(builder, data, other.fingerprint)
          != clip_cache.cache_dir(builder, data, encoder.fingerprint))
  stale = clip_cache.load_embeddings(other, builder, data, 2, log=lambda _: None)
  assert other.calls == 1                             # Other weights: computed anew.
  assert not np.allclose(np.asarray(stale), np.asarray(
      clip_cache.load_embeddings(encoder, builder, data, 2, log=lambda _: None)))
  assert (clip_cache.cache_dir(builder, _data(data_dir, frames=4), encoder.fingerprint)
          != clip_cache.cache_dir(builder, data, encoder.fingerprint))


def test_batches_carry_their_videos_rows_of_the_cache(tfds_dir):
  builder = data_lib.get_builder('bouncing_balls', tfds_dir)
  table = np.arange(4, dtype=np.float32)[:, None, None] * np.ones([4, 8, 5], np.float32)
  shards = clip_cache.ShardedEmbeddings([table[:3], table[3:]], shard_videos=3)
  ds = batches.make_dataset(builder, _data(tfds_dir), 4, batch_size=2, seed=0,
                             frame_embeddings=shards)
  for batch in ds.take(6):
    rows = batch['frame_embeddings'].numpy()                 # [2, 8, 5]
    assert rows.shape == (2, 8, 5)
    np.testing.assert_array_equal(rows[:, 3, 2], batch['video_id'].numpy())


# ------------------------------------------------------------ the GRU branch
def test_gru_branch_shapes_and_gradients_reach_gru_and_merge():
  model_config = dataclasses.replace(config_lib.small().model, clip=True, num_videos=3)
  model = model_lib.build_model(model_config, seed=0)
  assert model.latents.codes.shape == (3, 64)                   # c: clip_dim
  ids = tf.constant([2, 0])
  emb = tf.random.stateless_normal([2, 8, 512], seed=[0, 1])   # CLIP's width
  assert model.clip_encoder(emb).shape == (2, 64)               # g: 2 x 32 GRU units
  with tf.GradientTape() as tape:
    m = model.latent(ids, emb, training=True)
    loss = tf.reduce_sum(tf.square(m))
  assert m.shape == (2, 32)                                     # m: latent_dim
  grads = tape.gradient(loss, model.clip_variables)
  assert len(grads) == 3 * 2 + 2 * 2                            # 2 GRUs x 3, 2 Dense x 2
  assert all(g is not None and float(tf.reduce_max(tf.abs(g))) > 0 for g in grads)
  trainable = {id(v) for v in model.trainable_variables}
  assert all(id(v) in trainable for v in model.clip_variables)


# ------------------------------------------------------------------ training
@pytest.fixture(scope='module')
def trained(tmp_path_factory, tfds_dir, weights):
  """`small` with --clip, TRAIN_STEPS steps on 2 videos, then resumed a few more."""
  workdir = tmp_path_factory.mktemp('clip_run') / 'workdir'
  config = testing.small_config(
      tfds_dir, data={'num_videos': 2, 'clip_weights': weights['a']},
      model={'clip': True}, train={'steps': TRAIN_STEPS, 'log_every': 1,
                                   'summary_videos': 0})
  first, resumed = [], []
  loop.run(config, workdir, log=first.append)
  more = config.replace(train={'steps': TRAIN_STEPS + RESUME_STEPS})
  summary = loop.run(more, workdir, log=resumed.append)
  return config, workdir, first, resumed, summary


def _restore_model(workdir):
  """The model of a workdir, restored as inference does (no training code)."""
  return workdir_lib.load_model(workdir)


def _losses(lines):
  return [float(line.split(' loss ')[1].split()[0]) for line in lines
          if line.startswith('step ')]


def test_small_run_with_clip_trains(trained):
  _, workdir, first, _, _ = trained
  losses = _losses(first)
  assert len(losses) == TRAIN_STEPS
  assert losses[-1] < losses[0] / LOSS_FACTOR, (losses[0], losses[-1])
  # The GRU and merge weights are in the checkpoint, trained away from their init.
  config, restored = _restore_model(workdir)
  initial = model_lib.build_model(config.model)
  assert len(restored.clip_variables) == 10
  for trained_var, init_var in zip(restored.clip_variables, initial.clip_variables):
    assert not np.allclose(trained_var.numpy(), init_var.numpy()), trained_var.path


def test_clip_run_resumes_as_one(trained):
  _, _, first, resumed, summary = trained
  assert any(line.startswith('Resumed from') and f'step {TRAIN_STEPS}' in line
             for line in resumed)
  assert not any('computing' in line for line in resumed)   # The cache is reused.
  # It continues where it stopped, not from scratch.
  assert _losses(resumed)[0] < _losses(first)[0] / LOSS_FACTOR
  assert summary['step'] == TRAIN_STEPS + RESUME_STEPS


def test_inference_works_on_m_without_clip(trained, tfds_dir):
  config, workdir, _, _, _ = trained
  _, model = _restore_model(workdir)
  # The checkpoint holds the learned m table (model state), current at the last save.
  m = model.training_latents()
  assert m.shape == (2, 32)
  builder = data_lib.get_builder('bouncing_balls', tfds_dir)
  encoder = clip_encoder.load_clip_encoder(config.data.clip_weights)
  embeddings = clip_cache.load_embeddings(encoder, builder, config.data, 2,
                                          log=lambda _: None)
  np.testing.assert_allclose(model.latent_table(embeddings), m, atol=1e-6)
  d = config.data
  from_m = render.render_video(model, m, d.frames, d.height, d.width)
  through_clip = model.latent(tf.constant([0, 1]), tf.constant(embeddings[np.arange(2)]))
  np.testing.assert_allclose(
      from_m, render.render_video(model, through_clip, d.frames, d.height, d.width),
      atol=1e-5)
  video = data_lib.to_float(next(iter(data_lib.eval_dataset(builder, d, 1, 1)))['video'])
  mask = np.ones([d.frames, d.height, d.width], bool)
  result = inversion.invert(model, video.numpy(), mask, steps=5, codes=m)
  assert result.codes.shape == (1, 32)
  # Loaded from the workdir, the model carries its m table: generation and the
  # default inversion start (the mean of the learned m) need no CLIP.
  np.testing.assert_array_equal(sampling.learned_codes(model), m)
  codes = sampling.sample_codes(sampling.learned_codes(model), 3, seed=0)
  assert render.render_video(model, codes, 2, 8, 8).shape == (3, 2, 8, 8, 3)
  np.testing.assert_allclose(inversion.initial_codes(model, 1), m.mean(0, keepdims=True))
