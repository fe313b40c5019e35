"""Settings of the commands that use a trained space: every default is the paper's.

Each command line turns its flags into one of these frozen dataclasses, which
checks itself when built, and hands it to one library function.
"""

from __future__ import annotations

import dataclasses

from inrv_tf.config.training import CHUNK_PIXELS
from inrv_tf.config.training import one_of
from inrv_tf.config.training import positive

SAMPLING_MODES = ('slerp', 'gaussian')
INVERSION_TASKS = ('inversion', 'inpainting', 'frame_prediction', 'frame_interpolation',
                   'sparse_inpainting', 'superresolution')
INVERSION_INITS = ('mean', 'zeros', 'random')
INVERSION_LOSSES = ('l2', 'l1', 'weighted_l2')
# The pixel budget of the commands that render (generate, interpolate, invert,
# evaluate): videos x frames x height x width that a command renders or keeps
# at once. A guard against a size that would fill the machine (16000 typed for
# 160), not a tuning knob: 100 million pixels are 1.2 GB of float32 RGB.
MAX_PIXELS = 100_000_000
# Inversion also keeps every pixel's encoded coordinates (63 floats at the
# paper's 10 octaves, 21 RGB pixels' worth) through all of its steps.
INVERSION_MAX_PIXELS = MAX_PIXELS // 10


class PixelBudgetError(ValueError):
  """A request for more pixels than a budget (--max_pixels) allows."""


def budget_message(request: str, max_pixels: int, flag: str = '--max_pixels',
                   remedy: str = '') -> str:
  """The one wording of a refused request (the commands' and the SavedModel's)."""
  remedy = remedy or f'raise {flag} or render smaller'
  return f'{request} exceed the budget of {flag}={max_pixels}; {remedy}.'


def check_pixels(videos: int, frames: int, height: int, width: int, max_pixels: int) -> None:
  """Raises PixelBudgetError if videos x frames x height x width > max_pixels.

  Pure arithmetic on ints, so a command runs it before it loads anything.
  """
  total = int(videos) * int(frames) * int(height) * int(width)
  if total > max_pixels:
    noun = 'video' if videos == 1 else 'videos'
    raise PixelBudgetError(budget_message(
        f'{videos:,} {noun} of {frames} x {height} x {width} = {total:,} pixels', max_pixels))


def _check_output(s) -> None:
  """The fields every rendering command shares: sizes, chunk, batch, fps, budget."""
  for name in ('frames', 'height', 'width'):
    value = getattr(s, name)
    if value is not None and (isinstance(value, bool) or value <= 0):
      raise ValueError(f'--{name} must be a positive integer, got {value!r}.')
  positive('--', chunk_pixels=s.chunk_pixels, batch_size=s.batch_size, fps=s.fps,
           max_pixels=s.max_pixels)


def _output_size(s, data) -> tuple[int, int, int]:
  """(frames, height, width): the settings' sizes, the training size (`data`) where None."""
  return (s.frames or data.frames, s.height or data.height, s.width or data.width)


@dataclasses.dataclass(frozen=True)
class GenerateSettings:
  """Random videos (`python -m inrv_tf.generate`): sizes None mean the training size."""
  num_samples: int = 8
  mode: str = 'slerp'
  seed: int = 0
  frames: int | None = None
  height: int | None = None
  width: int | None = None
  chunk_pixels: int = CHUNK_PIXELS
  batch_size: int = 4
  fps: int = 10
  denoise: bool = False
  max_pixels: int = MAX_PIXELS

  def __post_init__(self):
    _check_output(self)
    positive('--', num_samples=self.num_samples)
    one_of('sampling mode', self.mode, SAMPLING_MODES)

  def check_budget(self, data) -> tuple[int, int, int]:
    """(frames, height, width) of the samples (`data`: the training DataConfig).

    Raises:
      PixelBudgetError: the videos rendered together exceed max_pixels.
    """
    size = _output_size(self, data)
    check_pixels(min(self.batch_size, self.num_samples), *size, self.max_pixels)
    return size


@dataclasses.dataclass(frozen=True)
class InterpolateSettings:
  """A slerp walk (`python -m inrv_tf.interpolate`): K videos from one end to the other."""
  steps: int = 8
  frames: int | None = None
  height: int | None = None
  width: int | None = None
  chunk_pixels: int = CHUNK_PIXELS
  batch_size: int = 4
  fps: int = 10
  max_pixels: int = MAX_PIXELS

  def __post_init__(self):
    _check_output(self)
    if self.steps < 2:
      raise ValueError(f'--steps must be at least 2 (both ends), got {self.steps}.')

  def check_budget(self, data) -> tuple[int, int, int]:
    """(frames, height, width) of the walk's videos (`data`: the training DataConfig).

    Raises:
      PixelBudgetError: the `steps` videos, all rendered a frame range at a
        time and kept for the grid, exceed max_pixels.
    """
    size = _output_size(self, data)
    check_pixels(self.steps, *size, self.max_pixels)
    return size


@dataclasses.dataclass(frozen=True)
class InversionSettings:
  """Inversion (paper Section 5.3; `python -m inrv_tf.invert`).

  Attributes:
    task: one of INVERSION_TASKS (which pixels the code is fitted to).
    steps, lr, loss: Adam on the visible pixels (the paper: lr 1e-2, the
      squared error of equations 7 and 8).
    init: the start code: 'mean' of the learned codes, 'zeros', or 'random' (a
      draw from the Gaussian fitted to them).
    seed: seeds the sparse mask and the random start.
    size: square size to invert at (None: the training size).
    low_size, high_size: superresolution's input and output sides.
    batch_size: videos inverted together; chunk_pixels: visible pixels per INR pass.
    fps, denoise: what is written.
    max_pixels: budget of the videos held at once (all the inputs, at the
      inverted or, for superresolution, the rendered size).
  """
  task: str = 'inversion'
  steps: int = 500
  lr: float = 1e-2
  loss: str = 'l2'
  init: str = 'mean'
  seed: int = 0
  size: int | None = None
  low_size: int = 32
  high_size: int = 128
  batch_size: int = 8
  chunk_pixels: int = CHUNK_PIXELS
  fps: int = 10
  denoise: bool = False
  max_pixels: int = INVERSION_MAX_PIXELS

  def __post_init__(self):
    one_of('task', self.task, INVERSION_TASKS)
    one_of('init', self.init, INVERSION_INITS)
    one_of('loss', self.loss, INVERSION_LOSSES)
    positive('--', steps=self.steps, lr=self.lr, size=self.size, low_size=self.low_size,
              high_size=self.high_size, batch_size=self.batch_size,
              chunk_pixels=self.chunk_pixels, fps=self.fps, max_pixels=self.max_pixels)

  def check_budget(self, data, num_videos: int) -> None:
    """Raises PixelBudgetError if `num_videos` inputs at the task's sizes exceed max_pixels.

    Args:
      data: the training DataConfig (frames; height and width when size is None).
    """
    if self.task == 'superresolution':
      side = max(self.low_size, self.high_size)
      check_pixels(num_videos, data.frames, side, side, self.max_pixels)
    else:
      height, width = (self.size, self.size) if self.size else (data.height, data.width)
      check_pixels(num_videos, data.frames, height, width, self.max_pixels)


MIN_FVD_FRAMES = 9   # I3D's temporal pooling leaves nothing of fewer (NaN logits).
EVAL_TABLES = ('reconstruction', 'fvd', 'multires', 'superres', 'inversion')
# Videos per table when --num_videos is not given: the paper's counts (a
# comparison set of 50, 2,048 videos for superresolution, 256 held out).
EVAL_COUNTS = {'reconstruction': 50, 'superres': 2048, 'inversion': 256}


@dataclasses.dataclass(frozen=True)
class EvalSettings:
  """What a paper table is computed with (`python -m inrv_tf.evaluate`).

  Attributes:
    num_videos: videos of the table (None: EVAL_COUNTS).
    size: square render size of every table (None: eval_size for Tables 1 and 2,
      the training size for Table 6).
    eval_size: Table 1's side, 128 as in the paper (at most the dataset's stored side).
    batch_size, seed, chunk_pixels, data_dir: how the videos are rendered and read.
    full, single_inr, single_inr_steps, single_inr_lr: Table 1's whole-set row
      and its Single-INR baseline (750 steps of Adam 1e-4, Section 4.1).
    i3d, num_samples, num_real, fvd_frames, fvd_batch_size, fvd_cache, fvd_runs,
      mirror: FVD (Tables 2 and 4) under StyleGAN-V's fvd2048_16f protocol: 2,048
      samples against 2,048 real 16-frame clips at random offsets (flipped at
      random with mirror), mean +- std over fvd_runs draws (I3D needs >= 9 frames).
    sizes: Table 4's render sides; scales: Table 5's factors of the training size.
    inversion_steps, heldout_split, sr_low, sr_high: Table 6.
    denoise: Table 2's second row, through the workdir's denoiser.
    max_pixels: budget of the videos a table renders or keeps at once.
  """
  num_videos: int | None = None
  size: int | None = None
  eval_size: int = 128
  batch_size: int = 8
  seed: int = 0
  chunk_pixels: int = CHUNK_PIXELS
  data_dir: str | None = None
  full: bool = True
  single_inr: bool = True
  single_inr_steps: int = 750
  single_inr_lr: float = 1e-4
  i3d: str | None = None
  num_samples: int = 2048
  num_real: int = 2048
  fvd_frames: int = 16
  fvd_batch_size: int = 16
  fvd_cache: str | None = None
  fvd_runs: int = 3
  mirror: bool = False
  sizes: tuple = (128, 256, 360)
  scales: tuple = (2.0, 3.0, 3.6)
  inversion_steps: int = InversionSettings.steps
  heldout_split: str | None = None
  sr_low: int = InversionSettings.low_size
  sr_high: int = InversionSettings.high_size
  denoise: bool = False
  max_pixels: int = MAX_PIXELS

  def __post_init__(self):
    positive('--', batch_size=self.batch_size, chunk_pixels=self.chunk_pixels,
              max_pixels=self.max_pixels,
              single_inr_steps=self.single_inr_steps, num_samples=self.num_samples,
              num_real=self.num_real, fvd_frames=self.fvd_frames,
              fvd_batch_size=self.fvd_batch_size, inversion_steps=self.inversion_steps,
              sr_low=self.sr_low, sr_high=self.sr_high, num_videos=self.num_videos,
              size=self.size, eval_size=self.eval_size, fvd_runs=self.fvd_runs)
    if self.fvd_frames < MIN_FVD_FRAMES:
      raise ValueError(f'--fvd_frames must be at least {MIN_FVD_FRAMES}: I3D gives NaN on '
                       f'fewer frames, got {self.fvd_frames}.')
    if not self.sizes or min(self.sizes) < 1:
      raise ValueError(f'--sizes must be positive sizes, got {self.sizes}.')
    if not self.scales or min(self.scales) <= 0:
      raise ValueError(f'--scales must be positive, got {self.scales}.')

  def check_table(self, table: str) -> None:
    """Raises ValueError for a table these settings cannot compute."""
    if table not in EVAL_TABLES:
      raise ValueError(f'Unknown table {table!r}; expected one of {", ".join(EVAL_TABLES)}.')
    if table in ('fvd', 'multires') and self.num_samples < 2:
      raise ValueError('FVD needs at least 2 samples (a covariance).')
    if self.denoise and table != 'fvd':
      raise ValueError('--denoise applies to --table=fvd (Table 2) only.')

  def check_budget(self, table: str, config) -> None:
    """Raises PixelBudgetError if what `table` renders or keeps at once exceeds max_pixels.

    Args:
      config: the workdir's training Config (its size and number of videos).
    """
    d, n = config.data, config.model.num_videos
    height, width = (self.size, self.size) if self.size else (d.height, d.width)
    side = self.size or self.eval_size  # Tables 1 and 2 (at most; Table 1 takes less
    if table == 'reconstruction':       # when the dataset stores smaller videos).
      count = min(n, self.num_videos or EVAL_COUNTS['reconstruction'])
      requests = [(max(count, min(n, self.batch_size)), side, side)]  # The set is kept.
    elif table in ('fvd', 'multires'):  # A batch of samples at the training length.
      side = max(self.sizes) if table == 'multires' else side
      requests = [(self.fvd_batch_size, side, side)]
    elif table == 'superres':
      scale = max(self.scales)
      requests = [(self.batch_size, int(round(scale * d.height)), int(round(scale * d.width)))]
    else:
      requests = [(self.batch_size, height, width), (self.batch_size, self.sr_high, self.sr_high)]
    for videos, h, w in requests:
      check_pixels(videos, d.frames, h, w, self.max_pixels)
