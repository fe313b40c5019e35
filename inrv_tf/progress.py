"""Progress of long jobs: elapsed time, rate, ETA, and a closing line with the total time.

    progress = Progress(total=2500, unit='step', initial=resumed_at, log=log)
    progress.update(step)                  # a line every `every` seconds (or a bar)
    log(f'step {step} loss ... {progress.suffix()}')   # '... elapsed 0:01:02 ETA 0:03:10'
    progress.close()                       # 'Rendering: 8 videos in 0:00:12 (0.667 videos/s)'

    for clip in track(clips, total=n, desc='FVD real clips', unit='clip', log=log):
      ...

On a terminal (`log` is `print` and stdout is a tty) the count is a tqdm bar;
anywhere else (a file, a pipe, a test's list) it is one line per `every`
seconds, with no carriage returns, so logs stay readable. The rate and ETA
count only the units done since the start, so a resumed job's ETA holds.
"""

from __future__ import annotations

import math
import sys
import time
from typing import Callable, Iterable, Iterator, TypeVar

import tqdm

T = TypeVar('T')
EVERY_SECONDS = 10.0


def format_duration(seconds: float | None) -> str:
  """'H:MM:SS' (hours unbounded); '?' for None or a non-finite value."""
  if seconds is None or not math.isfinite(seconds):
    return '?'
  minutes, secs = divmod(int(round(max(seconds, 0.0))), 60)
  hours, minutes = divmod(minutes, 60)
  return f'{hours}:{minutes:02d}:{secs:02d}'


def _plural(unit: str) -> str:
  return unit if unit.endswith('s') else unit + 's'


def counted(n: int, unit: str) -> str:
  """'1 step', '300 steps'."""
  return f'{n} {unit if n == 1 else _plural(unit)}'


class Progress:
  """Counts `total` units of work; logs or draws elapsed time, rate and ETA.

  Args:
    total: units the job ends at (e.g. the run's last step).
    desc: what the lines start with ('Rendering').
    unit: singular name of a unit ('step', 'video').
    initial: units already done when this process started (a resumed run).
    log: where lines go (`print` draws a tqdm bar on a terminal instead).
    every: seconds between two progress lines (a bar redraws more often).
    clock: seconds, monotonic (tests pass a fake).
  """

  def __init__(self, total: int, desc: str = '', unit: str = 'it', initial: int = 0,
               log: Callable[[str], None] | None = print, every: float = EVERY_SECONDS,
               clock: Callable[[], float] = time.monotonic):
    self.total, self.desc, self.unit = int(total), desc, unit
    self.initial = self.done = int(initial)
    self.log, self.every, self.clock = log, every, clock
    self.start = self._last_line = clock()
    self._bar = None
    if log is print and sys.stdout.isatty():
      self._bar = tqdm.tqdm(total=self.total, initial=self.initial, desc=desc or None,
                            unit=unit, file=sys.stdout, dynamic_ncols=True)

  @property
  def elapsed(self) -> float:
    return self.clock() - self.start

  @property
  def rate(self) -> float | None:
    """Units per second since the start (None before the first unit)."""
    elapsed = self.elapsed
    return (self.done - self.initial) / elapsed if self.done > self.initial and elapsed > 0 \
        else None

  @property
  def eta(self) -> float | None:
    """Seconds left at the rate so far (None before the first unit)."""
    rate = self.rate
    return max(self.total - self.done, 0) / rate if rate else None

  def suffix(self) -> str:
    """'elapsed H:MM:SS ETA H:MM:SS', for the end of a caller's own progress line."""
    return f'elapsed {format_duration(self.elapsed)} ETA {format_duration(self.eta)}'

  def line(self) -> str:
    """'desc: done/total units, rate units/s, elapsed H:MM:SS, ETA H:MM:SS'."""
    rate = self.rate
    speed = f'{rate:.3g} {_plural(self.unit)}/s' if rate else f'? {_plural(self.unit)}/s'
    head = f'{self.desc}: ' if self.desc else ''
    return (f'{head}{self.done}/{self.total} {_plural(self.unit)}, {speed}, '
            f'elapsed {format_duration(self.elapsed)}, ETA {format_duration(self.eta)}')

  def update(self, done: int) -> None:
    """Sets the count; draws the bar, or logs a line if `every` seconds have passed."""
    self.done = int(done)
    if self._bar is not None:
      self._bar.update(self.done - self._bar.n)
    elif self.log is not None and (self.clock() - self._last_line >= self.every):
      self._last_line = self.clock()
      self.log(self.line())

  def advance(self, count: int = 1) -> None:
    self.update(self.done + count)

  def close(self, message: str | None = None) -> str:
    """Ends the bar; logs `message` (default: the count, total time and rate); returns it."""
    if self._bar is not None:
      self._bar.close()
      self._bar = None
    if message is None:
      rate = self.rate
      speed = f' ({rate:.3g} {_plural(self.unit)}/s)' if rate else ''
      head = f'{self.desc}: ' if self.desc else ''
      message = (f'{head}{self.done - self.initial} {_plural(self.unit)} in '
                 f'{format_duration(self.elapsed)}{speed}')
    if self.log is not None:
      self.log(message)
    return message

  def __enter__(self) -> 'Progress':
    return self

  def __exit__(self, *exc) -> None:
    if self._bar is not None:      # On an error: end the bar, log no closing line.
      self._bar.close()
      self._bar = None


def track(items: Iterable[T], total: int | None = None, desc: str = '', unit: str = 'it',
          log: Callable[[str], None] | None = print, every: float = EVERY_SECONDS,
          size: Callable[[T], int] | None = None) -> Iterator[T]:
  """Yields `items`, counting them (or `size(item)` units each) in a Progress; closes it.

  Args:
    total: units in all (default len(items)).
    size: units per item (e.g. a batch's length); default 1.
  """
  total = len(items) if total is None else total
  progress = Progress(total, desc, unit, log=log, every=every)
  with progress:
    for item in items:
      yield item
      progress.advance(size(item) if size else 1)
    progress.close()
