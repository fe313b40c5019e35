"""Generation's files: frame-range streaming, and requests refused before loading."""

import tracemalloc

import numpy as np
import pytest

from inrv_tf import config as config_lib
from inrv_tf import files
from inrv_tf import workdir as workdir_lib
from inrv_tf.apps import generation
from inrv_tf.apps import video_inversion
from inrv_tf.evaluate import paper_tables
from inrv_tf.model import render


@pytest.fixture(scope='module')
def trained(apps_workdir):
  """(config, model) of the session's small trained workdir (conftest.py)."""
  return workdir_lib.load_model(apps_workdir)


def _write(model, codes, out, frames=8):
  stems = [out / f'step_{i}' for i in range(len(codes))]
  generation.write_rendered(model, codes, (frames, 32, 32), stems,
                            config_lib.InterpolateSettings(fps=5), grid=out / 'grid')
  return {p.name: files.read_video(p) for p in sorted(out.iterdir())}


def test_long_videos_stream_frame_ranges_into_the_same_files(trained, tmp_path, monkeypatch):
  """Parts of 3 frames (3 + 3 + 2) give the files one whole render gives."""
  codes = trained[1].latents.codes.numpy()
  whole = _write(trained[1], codes, tmp_path / 'whole')
  monkeypatch.setattr(render, 'PART_PIXELS', 3 * 2 * 32 * 32)
  assert render.frames_per_part(2, 32, 32) == 3
  parts = _write(trained[1], codes, tmp_path / 'parts')
  assert sorted(parts) == ['grid.gif', 'grid.mp4', 'step_0.gif', 'step_0.mp4', 'step_1.gif',
                           'step_1.mp4']
  assert parts['grid.mp4'].shape == (8, 32, 64, 3) and parts['step_1.gif'].shape == (8, 32, 32, 3)
  for name, video in parts.items():
    # The same uint8 frames up to a rare float rounding of one level, so the same
    # codec output within a fraction of a level.
    assert np.abs(video.astype(int) - whole[name]).mean() < 0.05, name
  # The grid's second cell is the second step (each GIF has its own palette).
  assert np.abs(parts['grid.gif'][:, :, 32:].astype(int) - parts['step_1.gif']).mean() < 2.0


def test_streaming_holds_a_frame_range_not_the_video(trained, tmp_path, monkeypatch):
  """400 frames of one code, 8 frames a part: what Python holds at once stays under
  half the float video (4.9 MB); rendered whole, it is twice the video.

  Measured here: 1.4 MB, nearly all the GIF's frames (1,024 one-byte pixels and a
  768-byte palette each, kept until the GIF is written); whole, 10.4 MB.
  """
  code = trained[1].latents.codes.numpy()[:1]
  video_bytes = 400 * 32 * 32 * 3 * 4
  peaks = {}
  for name, part_pixels in (('whole', 1 << 22), ('parts', 8 * 32 * 32)):
    monkeypatch.setattr(render, 'PART_PIXELS', part_pixels)
    tracemalloc.start()
    generation.write_rendered(trained[1], code, (400, 32, 32), [tmp_path / name],
                              config_lib.GenerateSettings())
    peaks[name] = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert files.read_video(tmp_path / f'{name}.mp4').shape == (400, 32, 32, 3)
  assert peaks['whole'] > 2 * video_bytes
  assert peaks['parts'] < video_bytes / 2, peaks


@pytest.fixture
def no_loading(monkeypatch):
  """Makes loading a model fail the test: the refusals must come first."""
  def load_model(*args, **kwargs):
    raise AssertionError('the model was loaded')
  monkeypatch.setattr(workdir_lib.Workdir, 'load_model', load_model)


def test_requests_over_the_budget_are_refused_before_loading(apps_workdir, tmp_path,
                                                             no_loading):
  over = 'exceed the budget of --max_pixels={}; raise --max_pixels or render smaller.'
  with pytest.raises(config_lib.PixelBudgetError, match=(
      '^4 videos of 8 x 16000 x 16000 = 8,192,000,000 pixels ' + over.format(100000000))):
    generation.generate_videos(apps_workdir, tmp_path / 'g',
                               config_lib.GenerateSettings(height=16000, width=16000))
  with pytest.raises(config_lib.PixelBudgetError, match=(
      '^3 videos of 8 x 32 x 32 = 24,576 pixels ' + over.format(20000))):
    generation.interpolate_videos(apps_workdir, tmp_path / 'i',
                                  config_lib.InterpolateSettings(steps=3, max_pixels=20000),
                                  ids=[0, 1])
  with pytest.raises(config_lib.PixelBudgetError, match=(
      '^2 videos of 8 x 1000 x 1000 = 16,000,000 pixels ' + over.format(10000000))):
    video_inversion.invert_videos(apps_workdir, tmp_path / 'v',
                                  config_lib.InversionSettings(size=1000), ids=[0, 1])
  with pytest.raises(config_lib.PixelBudgetError, match=(
      '^8 videos of 8 x 3200 x 3200 = 655,360,000 pixels ' + over.format(100000000))):
    paper_tables.evaluate(apps_workdir, 'superres', config_lib.EvalSettings(scales=(100.0,)))
  assert not any(tmp_path.iterdir())        # Nothing was written either.


def test_unwritable_out_is_refused_before_loading(apps_workdir, tmp_path, no_loading):
  (tmp_path / 'file').write_text('x')
  with pytest.raises(files.OutputError, match=f'^Cannot write to --out {tmp_path}/file/out: '):
    generation.generate_videos(apps_workdir, tmp_path / 'file/out', config_lib.GenerateSettings())
  with pytest.raises(files.OutputError, match=f'^--out {tmp_path}/file exists and is not a'):
    video_inversion.invert_videos(apps_workdir, tmp_path / 'file',
                                  config_lib.InversionSettings(), ids=[0])
  with pytest.raises(files.OutputError, match=f'^--out {tmp_path} is a folder; give a file'):
    paper_tables.evaluate(apps_workdir, 'reconstruction', out=tmp_path)
