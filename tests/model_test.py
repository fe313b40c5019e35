import json

import numpy as np
import tensorflow as tf

from inrv_tf import config as config_lib
from inrv_tf.model import inrv as model_lib
from tests import testing


def test_paper_preset_sizes():
  model = model_lib.build_model(config_lib.paper().model.__class__(num_videos=3))
  assert model.spec.num_params == 214_531
  assert model.spec.in_features == 63
  hyper = sum(int(np.prod(v.shape)) for v in model.hypernet_variables)
  # 10 heads: 128->256 + 3 x 256->256 hidden, then 256 -> tensor size (+ biases).
  assert hyper == 10 * (128 * 256 + 256 + 3 * (256 * 256 + 256)) + 257 * 214_531
  assert model.latents.codes.shape == (3, 128)


def test_latent_init_std():
  model = model_lib.build_model(testing.tiny_model_config(num_videos=2000), seed=0)
  codes = model.latents.codes.numpy()
  assert abs(np.std(codes) - 0.01) < 0.0003 and abs(np.mean(codes)) < 0.0003


def test_forward_shape_and_gradients_reach_codes_and_heads():
  model = model_lib.build_model(testing.tiny_model_config(num_videos=4), seed=0)
  features = model.encoded_grid(2, 3, 4)
  ids = tf.constant([1, 3])
  with tf.GradientTape() as tape:
    out = model({'video_id': ids, 'features': features})
    loss = tf.reduce_mean(tf.abs(out - 0.5))
  assert out.shape == (2, 24, 3)
  grads = dict(zip([v.path for v in model.trainable_variables],
                   tape.gradient(loss, model.trainable_variables)))
  codes_grad = tf.convert_to_tensor(grads[model.latents.codes.path]).numpy()
  assert np.all(codes_grad[[1, 3]] != 0) and np.all(codes_grad[[0, 2]] == 0)
  for path, g in grads.items():
    assert g is not None and float(tf.reduce_max(tf.abs(tf.convert_to_tensor(g)))) > 0, path
  assert len(model.latent_variables) == 1
  assert len(model.hypernet_variables) == len(model.trainable_variables) - 1


def test_config_round_trip():
  model = model_lib.build_model(testing.tiny_model_config(), seed=0)
  config = json.loads(json.dumps(model.get_config()))
  clone = model_lib.InrvModel.from_config(config)
  clone.build()
  clone.set_weights(model.get_weights())
  f = model.encoded_grid(1, 2, 2)
  inputs = {'video_id': tf.constant([0, 1]), 'features': f}
  np.testing.assert_array_equal(model(inputs).numpy(), clone(inputs).numpy())


def test_clip_branch_interface():
  cfg = testing.tiny_model_config(clip=True, clip_dim=12, gru_units=4, gru_layers=2,
                                  merge_widths=(10,))
  model = model_lib.build_model(cfg, seed=0)
  assert model.latents.codes.shape == (2, 12)   # c has clip_dim features
  emb = tf.random.normal([2, 5, 12])
  m = model.latent(tf.constant([0, 1]), emb)
  assert m.shape == (2, 8)
  try:
    model.latent(tf.constant([0]))
  except ValueError as e:
    assert 'frame embeddings' in str(e)
  else:
    raise AssertionError('latent() without embeddings must fail for a CLIP model')
