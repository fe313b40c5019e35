import dataclasses

import pytest

from inrv_tf import config as config_lib


def test_json_round_trip():
  config = config_lib.small().replace(data={'frames': 5}, model={'num_videos': 7})
  again = config_lib.Config.from_json(config.to_json())
  assert again == config
  assert isinstance(again.model.inr_widths, tuple)


def test_paper_numbers():
  c = config_lib.paper()
  assert (c.data.frames, c.data.height, c.data.width) == (25, 100, 100)
  assert c.model.latent_dim == 128 and c.model.inr_widths == (256,) * 4
  assert c.model.hyper_width == 256 and c.model.hyper_depth == 4
  assert c.model.num_frequencies == 10 and c.model.latent_init_std == 0.01
  assert (c.train.lr, c.train.loss, c.train.batch_size) == (1e-4, 'l1', 2)
  assert (c.train.lr_schedule, c.train.warmup_steps) == ('constant', 0)   # Adam 1e-4, constant
  assert c.model.resolved_code_dim == 128
  # A Config with CLIP needs clip_weights (it checks itself when built); the model alone:
  assert dataclasses.replace(c.model, clip=True).resolved_code_dim == 512


@pytest.mark.parametrize('section,changes,message', [
    ('data', {'frames': 0}, 'frames must be a positive'),
    ('data', {'height': -3}, 'height must be a positive'),
    ('data', {'pixel_fraction': 0.0}, 'pixel_fraction'),
    ('train', {'loss': 'huber'}, 'Unknown loss'),
    ('train', {'precision': 'float64'}, 'Unknown precision'),
    ('train', {'batch_size': 0}, 'batch_size'),
    ('train', {'lr_schedule': 'linear'}, 'Unknown lr_schedule'),
    ('train', {'warmup_steps': -1}, 'warmup_steps must be non-negative'),
    ('train', {'lr_schedule': 'cosine', 'warmup_steps': 2500},
     r'warmup_steps \(2500\) must be below steps \(2500\)'),
])
def test_validate(section, changes, message):
  with pytest.raises(ValueError, match=message):
    config_lib.validate(config_lib.small().replace(**{section: changes}))


def test_unknown_fields_rejected():
  with pytest.raises(ValueError, match='Unknown ModelConfig fields'):
    config_lib.Config.from_dict({'model': {'wdith': 3}})


def test_fast_preset_is_the_paper_model_on_a_quarter_of_the_pixels():
  fast, paper = config_lib.fast(), config_lib.paper()
  assert config_lib.preset('fast') == fast and 'fast' in config_lib.PRESETS
  assert fast.model == paper.model and fast.train == paper.train
  assert fast.data == dataclasses.replace(paper.data, pixel_fraction=0.25)
  # LPIPS compares whole frames, so the release's loss needs every pixel.
  with pytest.raises(ValueError, match='--pixel_fraction=1'):
    fast.replace(train={'lpips_weight': 0.7, 'lpips_weights': 'lpips.npz'})
  assert fast.replace(data={'pixel_fraction': 1.0},
                      train={'lpips_weight': 0.7, 'lpips_weights': 'lpips.npz'})


def test_fast_cosine_preset_is_fast_with_a_warmup_and_cosine_schedule():
  fast, cosine = config_lib.fast(), config_lib.preset('fast_cosine')
  assert 'fast_cosine' in config_lib.PRESETS and cosine.model == fast.model
  assert cosine.data == fast.data
  assert cosine.train == dataclasses.replace(fast.train, lr=2e-4, lr_schedule='cosine',
                                             warmup_steps=100)
