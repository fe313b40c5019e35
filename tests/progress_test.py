"""The progress helper: durations, rate, ETA, one line per interval, the closing line."""

import pytest

from inrv_tf import progress


class FakeClock:
  """Seconds that move only when told to."""

  def __init__(self):
    self.now = 100.0

  def __call__(self) -> float:
    return self.now


@pytest.mark.parametrize('seconds, text', [(0, '0:00:00'), (59.4, '0:00:59'), (61, '0:01:01'),
                                           (3600, '1:00:00'), (90061, '25:01:01'),
                                           (-3, '0:00:00'), (None, '?'),
                                           (float('inf'), '?'), (float('nan'), '?')])
def test_format_duration(seconds, text):
  assert progress.format_duration(seconds) == text


def test_counted_says_one_unit_or_many():
  assert [progress.counted(n, 'step') for n in (0, 1, 300)] == ['0 steps', '1 step', '300 steps']
  assert progress.counted(2, 'pixels') == '2 pixels'


def test_rate_and_eta_count_only_this_runs_units():
  clock, lines = FakeClock(), []
  p = progress.Progress(1000, unit='step', initial=200, log=lines.append, clock=clock)
  assert p.rate is None and p.eta is None
  assert p.suffix() == 'elapsed 0:00:00 ETA ?'
  clock.now += 40.0
  p.update(400)                        # 200 steps in 40 s: 5 steps/s, 600 left.
  assert p.rate == pytest.approx(5.0)
  assert p.eta == pytest.approx(120.0)
  assert p.suffix() == 'elapsed 0:00:40 ETA 0:02:00'


def test_one_line_per_interval_then_a_closing_line():
  clock, lines = FakeClock(), []
  p = progress.Progress(10, 'Rendering', 'video', log=lines.append, every=10.0, clock=clock)
  for done in range(1, 11):
    clock.now += 3.0                   # A line at 12 s and one at 24 s, not more.
    p.update(done)
  assert lines == ['Rendering: 4/10 videos, 0.333 videos/s, elapsed 0:00:12, ETA 0:00:18',
                   'Rendering: 8/10 videos, 0.333 videos/s, elapsed 0:00:24, ETA 0:00:06']
  assert p.close() == 'Rendering: 10 videos in 0:00:30 (0.333 videos/s)'
  assert lines[-1] == 'Rendering: 10 videos in 0:00:30 (0.333 videos/s)'
  assert '\r' not in ''.join(lines)


def test_close_with_a_message_and_no_log():
  p = progress.Progress(3, log=None)
  p.update(3)
  assert p.close('done') == 'done'


def test_track_counts_items_and_sizes():
  lines = []
  batches = [[1, 2], [3, 4], [5]]
  out = list(progress.track(batches, total=5, desc='FVD', unit='clip', log=lines.append,
                            every=0.0, size=len))
  assert out == batches
  assert [line.split(',')[0] for line in lines[:3]] == ['FVD: 2/5 clips', 'FVD: 4/5 clips',
                                                       'FVD: 5/5 clips']
  assert lines[-1].startswith('FVD: 5 clips in 0:00:0')
