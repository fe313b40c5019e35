import pytest

from inrv_tf.train import schedule


def test_progressive_stage_sizes_and_caps():
  stages = schedule.make_stages(34_526, batch_size=2, progressive=True)
  assert [s.num_videos for s in stages] == [10, 100, 1000, 10_000, 34_526]
  assert [s.max_epochs for s in stages] == [710, 101, 50, 10, None]
  assert stages[0].steps_per_epoch == 5 and stages[0].max_steps == 3550
  assert stages[-1].is_last


def test_small_dataset_and_no_progressive():
  assert [s.num_videos for s in schedule.make_stages(7, 2, True)] == [7]
  assert [s.num_videos for s in schedule.make_stages(150, 2, True)] == [10, 100, 150]
  only = schedule.make_stages(150, 4, False)
  assert len(only) == 1 and only[0].num_videos == 150 and only[0].steps_per_epoch == 38


def test_stage_done():
  stage = schedule.make_stages(500, 2, True)[0]       # 10 videos, 5 steps per epoch
  assert not schedule.stage_done(stage, 5, 0.01, threshold=1e-3)
  assert schedule.stage_done(stage, 5, 0.0009, threshold=1e-3)
  assert schedule.stage_done(stage, stage.max_steps, 0.5, threshold=1e-3)
  last = schedule.make_stages(500, 2, True)[-1]
  assert not schedule.stage_done(last, 10 ** 9, 0.0, threshold=1e-3)


def test_rejects_empty():
  with pytest.raises(ValueError):
    schedule.make_stages(0, 2, True)
