"""The training curve: the numbers of every progress line, kept in the workdir across resumes.

    curves = Curves.load(workdir.curves_file, up_to_step=resumed_at)
    curves.add(step=100, loss=0.077, psnr=17.15, stage_videos=64)
    curves.save()                    # at every progress line: a killed run keeps its curve
    curves.columns                   # {'step': [100, ...], 'loss': [...], 'psnr': [...], ...}

A run resumed at step k first drops the points after k (a run killed after
logging step 1,700 whose last checkpoint is step 1,500 trains steps 1,501..
again), so the file holds one point per logged step of the run that led to
the checkpoint, and the plot at the end (`inrv_tf.figures`) covers the whole
run, however many processes trained it.
"""

from __future__ import annotations

import json
import pathlib

from inrv_tf import files

FIELDS = ('step', 'loss', 'psnr', 'stage_videos', 'pixels_per_second', 'input_wait')


class Curves:
  """Columns of numbers, one row per progress line, in step order.

  Args:
    path: the JSON file ({field: [values]}) they are saved to.
    columns: the rows so far (default none).
  """

  def __init__(self, path, columns: dict | None = None):
    self.path = pathlib.Path(path)
    self.columns = {name: list((columns or {}).get(name, [])) for name in FIELDS}

  @classmethod
  def load(cls, path, up_to_step: int) -> 'Curves':
    """The saved curve without its points after `up_to_step` (none if no file, or unreadable)."""
    path = pathlib.Path(path)
    try:
      saved = json.loads(path.read_text())
      steps = saved['step']
    except (OSError, ValueError, KeyError, TypeError):
      return cls(path)
    keep = sum(1 for step in steps if step <= up_to_step)
    return cls(path, {name: list(saved.get(name, []))[:keep] for name in FIELDS})

  def __len__(self) -> int:
    return len(self.columns['step'])

  def add(self, **row) -> None:
    """Appends one row; every field of FIELDS must be given."""
    for name in FIELDS:
      self.columns[name].append(row[name])

  def save(self) -> None:
    files.write_json(self.path, self.columns)
