"""Progressive training as data: the stages and when each one ends.

Stage i trains on min(10^i, N) videos (a seeded random subset, nested in the
next stage's: `data.order.stage_videos`); every stage but the last runs until
its epoch-mean loss is under a threshold or its epoch cap is reached; the last
runs until the step budget. Plain Python, no TensorFlow.
"""

from __future__ import annotations

import dataclasses
import math


@dataclasses.dataclass(frozen=True)
class Stage:
  index: int
  num_videos: int
  max_epochs: int | None     # None: the last stage, bounded only by --steps
  steps_per_epoch: int

  @property
  def is_last(self) -> bool:
    return self.max_epochs is None

  @property
  def max_steps(self) -> int | None:
    return None if self.max_epochs is None else self.max_epochs * self.steps_per_epoch


def steps_per_epoch(num_videos: int, batch_size: int) -> int:
  return max(1, math.ceil(num_videos / batch_size))


def make_stages(total_videos: int, batch_size: int, progressive: bool,
                max_epochs: tuple[int, ...] = (710, 101, 50, 10)) -> list[Stage]:
  """The stages of a run over `total_videos` videos.

  Without progressive training there is one stage of every video. With it,
  stage sizes are 1, 10, 100, ... capped at N (paper A.2: i = 0..K), i.e.
  min(10^i, N); DESIGN.md's caps start at the 10-video stage, so the 1-video
  stage is skipped: sizes 10, 100, ..., N. `max_epochs[i]` caps stage i, the
  last entry caps every further non-final stage.
  """
  if total_videos <= 0:
    raise ValueError(f'total_videos must be positive, got {total_videos}.')
  if not progressive:
    return [Stage(0, total_videos, None, steps_per_epoch(total_videos, batch_size))]
  sizes = []
  i = 1
  while True:
    size = min(10 ** i, total_videos)
    sizes.append(size)
    if size == total_videos:
      break
    i += 1
  stages = []
  for index, size in enumerate(sizes):
    last = index == len(sizes) - 1
    cap = None if last else max_epochs[min(index, len(max_epochs) - 1)]
    stages.append(Stage(index, size, cap, steps_per_epoch(size, batch_size)))
  return stages


def stage_done(stage: Stage, steps_in_stage: int, epoch_loss: float | None,
               threshold: float) -> bool:
  """Whether a non-final stage is over after `steps_in_stage` steps.

  Called at epoch boundaries with that epoch's mean loss.
  """
  if stage.is_last:
    return False
  if steps_in_stage >= stage.max_steps:
    return True
  return epoch_loss is not None and epoch_loss < threshold
