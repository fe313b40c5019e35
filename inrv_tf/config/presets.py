"""The presets: named Configs a run starts from (`train --preset=NAME`).

    paper        DESIGN.md's numbers exactly
    fast         the paper's model, each step on a random quarter of the pixels
    fast_cosine  fast with Adam 2e-4, a warmup and a cosine decay to 0 at --steps
    small        a CPU-sized model for the quickstart and the tests
"""

from __future__ import annotations

from inrv_tf.config.training import CHUNK_PIXELS
from inrv_tf.config.training import Config
from inrv_tf.config.training import DataConfig
from inrv_tf.config.training import ModelConfig
from inrv_tf.config.training import TrainConfig

PRESETS = ('paper', 'fast', 'fast_cosine', 'small')

# The `fast` preset's share of each video's pixels per step (benchmarks/README.md,
# "Time to quality": the paper's model reaches the same reconstruction sooner).
FAST_PIXEL_FRACTION = 0.25

# The `fast_cosine` preset's learning rate: Adam's peak, its linear warmup, then a
# cosine decay to 0 at --steps (benchmarks/README.md, "Learning-rate schedule").
FAST_COSINE_LR = 2e-4
FAST_COSINE_WARMUP_STEPS = 100


def paper() -> Config:
  """DESIGN.md's numbers exactly: 100 x 100 x 25 videos, batch 2, Adam 1e-4, L1,
  progressive training (stages of 10, 100, 1,000, ... videos), as the paper trains.

  The INR runs over pixel chunks of CHUNK_PIXELS, which changes memory and
  speed, not the result.
  """
  return Config(train=TrainConfig(chunk_pixels=CHUNK_PIXELS, progressive=True))


def fast() -> Config:
  """The paper's model, objective and optimiser, each step on a random quarter of
  every video's pixels (DataConfig.pixel_fraction = FAST_PIXEL_FRACTION).

  The L1 loss over a uniform random subset of pixels is an unbiased estimate of
  the loss over all of them, so it is the paper's objective, minimised with
  steps that cost about a third as much at 25 x 64 x 64 (the hypernetwork and
  Adam's update of its 57M weights do not shrink with the pixels). On real
  footage it reaches the PSNR of a full-pixel run in fewer seconds
  (benchmarks/README.md, "Time to quality"). LPIPS needs whole frames: with
  --lpips_weight, pass --pixel_fraction=1 (or use `paper`).
  """
  return paper().replace(data={'pixel_fraction': FAST_PIXEL_FRACTION})


def fast_cosine() -> Config:
  """`fast` with a learning-rate schedule: Adam's rate ramps linearly to
  FAST_COSINE_LR (2e-4) over FAST_COSINE_WARMUP_STEPS (100) steps, then falls as a
  half cosine to 0 at `steps` (so give --steps: the run's length is the schedule's).

  The model and the objective are the paper's; the optimiser is Adam with the
  schedule instead of a constant 1e-4. On real cricket clips and on real-digit
  Moving-MNIST it reached every PSNR target no later than `fast`, and ended
  higher (benchmarks/README.md, "Learning-rate schedule").
  """
  return fast().replace(train={'lr': FAST_COSINE_LR, 'lr_schedule': 'cosine',
                               'warmup_steps': FAST_COSINE_WARMUP_STEPS})


def small() -> Config:
  """A CPU-sized model for the quickstart and the tests (minutes on two cores).

  Narrower INR and hypernetwork, 32 x 32 x 8 videos, a larger learning rate and
  the L2 loss; the structure (10 heads, NeRF encoding, per-video INR weights) is
  the paper's. L2 because on mostly flat toy videos L1's median pulls every
  pixel to the background first (benchmarks/README.md, "The small preset").
  """
  return Config(
      data=DataConfig(frames=8, height=32, width=32),
      model=ModelConfig(latent_dim=32, num_frequencies=6,
                        inr_widths=(64, 64, 64), hyper_width=64,
                        hyper_depth=2, clip_dim=64, clip_embedding_dim=512,
                        gru_units=32,
                        gru_layers=1, merge_widths=(64,)),
      train=TrainConfig(batch_size=2, steps=2500, lr=1e-3, loss='l2', log_every=100,
                        checkpoint_every=500),
  )


def preset(name: str) -> Config:
  if name == 'paper':
    return paper()
  if name == 'fast':
    return fast()
  if name == 'fast_cosine':
    return fast_cosine()
  if name == 'small':
    return small()
  raise ValueError(f'Unknown preset {name!r}; expected one of {PRESETS}.')
