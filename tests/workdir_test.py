"""The workdir lock and the cleaning of a killed run's leftovers, with real processes."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from inrv_tf import files
from inrv_tf import lockfile
from inrv_tf import workdir as workdir_lib

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOST = socket.gethostname()
# Takes the lock the way a trainer will (one `error:` line if it cannot), says so, waits.
HOLDER = '''
import sys, time
from inrv_tf import cli, workdir
with cli.user_errors():
  with workdir.Workdir(sys.argv[1]).lock(log=lambda m: print(m, flush=True)):
    print('locked', flush=True)
    time.sleep(float(sys.argv[2]))
'''
# Saves a 128 MB checkpoint again and again, announcing each save before it starts.
SAVER = '''
import os, sys
os.environ['TF_CPP_MIN_LOG_LEVEL'] = '3'
import tensorflow as tf
v = tf.Variable(tf.zeros([32, 1024, 1024]))
manager = tf.train.CheckpointManager(tf.train.Checkpoint(v=v), sys.argv[1], max_to_keep=2)
for step in range(1, 1000):
  print('saving', step, flush=True)
  manager.save(checkpoint_number=step)
'''
# Opens an atomic write and waits inside it (killed there, it leaves its temporary file).
WRITER = '''
import sys, time
from inrv_tf import files
with files.atomic_path(sys.argv[1]) as tmp:
  print(tmp, flush=True)
  time.sleep(60)
'''


def _start(script, *args):
  return subprocess.Popen([sys.executable, '-c', script, *map(str, args)], cwd=REPO,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(process, text, timeout=120.0):
  """Reads the process's stdout until a line starting with `text`; returns that line."""
  deadline = time.monotonic() + timeout
  while time.monotonic() < deadline:
    line = process.stdout.readline()
    if line.startswith(text):
      return line.strip()
    if not line and process.poll() is not None:
      break
  raise AssertionError(f'no {text!r} from the process: {process.stderr.read()[-2000:]}')


def _kill(process):
  os.kill(process.pid, signal.SIGKILL)
  process.wait(timeout=30)


# The lock ----------------------------------------------------------------------
def test_second_trainer_fails_at_once_naming_the_owner_then_a_dead_ones_lock_is_taken_over(
    tmp_path):
  first = _start(HOLDER, tmp_path, 120)
  try:
    _wait_for(first, 'locked')
    lock = json.loads((tmp_path / 'train.lock').read_text())
    assert (lock['pid'], lock['host']) == (first.pid, HOST)
    start = time.monotonic()
    second = subprocess.run([sys.executable, '-c', HOLDER, str(tmp_path), '0'], cwd=REPO,
                            capture_output=True, text=True, timeout=60)
    assert time.monotonic() - start < 20
    assert second.returncode == 1 and second.stdout == ''
    assert second.stderr.strip().splitlines() == [
        f'error: --workdir {tmp_path} is in use: pid {first.pid} on this host ({HOST}) holds '
        f'the lock file {tmp_path}/train.lock, since {lock["since"]} ({lock["command"]}). '
        'Wait for it to end or stop it.']
  finally:
    _kill(first)                       # SIGKILL: its lock file stays behind.
  assert (tmp_path / 'train.lock').is_file()
  third = subprocess.run([sys.executable, '-c', HOLDER, str(tmp_path), '0'], cwd=REPO,
                         capture_output=True, text=True, timeout=60)
  assert third.returncode == 0, third.stderr
  assert third.stdout.splitlines() == [
      f'Took over the stale lock file {tmp_path}/train.lock (pid {first.pid} of this host '
      'no longer runs).', 'locked']
  assert os.listdir(tmp_path) == []    # Released on exit.


def test_lock_of_another_host_is_respected_and_says_how_to_remove_it(tmp_path):
  owner = {'pid': 4242, 'host': 'node-b', 'since': '2025-01-02 03:04:05 +0000',
           'command': 'python -m inrv_tf.train --workdir=/shared/run'}
  (tmp_path / 'train.lock').write_text(json.dumps(owner))
  with pytest.raises(lockfile.LockError) as raised:
    with workdir_lib.Workdir(tmp_path).lock(log=print):
      pass
  assert str(raised.value) == (
      f'--workdir {tmp_path} is in use: pid 4242 on host node-b holds the lock file '
      f'{tmp_path}/train.lock, since 2025-01-02 03:04:05 +0000 (python -m inrv_tf.train '
      f'--workdir=/shared/run). This host ({HOST}) cannot see whether it still runs: stop '
      f'it there, or, if it is gone, remove the lock file (rm {tmp_path}/train.lock).')
  assert json.loads((tmp_path / 'train.lock').read_text()) == owner   # Untouched.


def test_lock_of_a_reused_pid_or_unreadable_is_taken_over(tmp_path):
  messages = []
  # Our own pid, but a process started at another time: the pid was reused.
  (tmp_path / 'train.lock').write_text(json.dumps({'pid': os.getpid(), 'host': HOST,
                                                   'start': '1'}))
  with workdir_lib.Workdir(tmp_path).lock(log=messages.append) as me:
    assert json.loads((tmp_path / 'train.lock').read_text()) == me
    assert me['pid'] == os.getpid() and me['start'] == lockfile.process_start(os.getpid())
  assert messages == [f'Took over the stale lock file {tmp_path}/train.lock (pid '
                      f'{os.getpid()} of this host no longer runs).']
  (tmp_path / 'train.lock').write_text('{"pid": 12')            # Torn by a crash, long ago.
  os.utime(tmp_path / 'train.lock', (time.time() - 60, time.time() - 60))
  with workdir_lib.Workdir(tmp_path).lock(log=messages.append):
    pass
  assert messages[-1] == (f'Took over the stale lock file {tmp_path}/train.lock '
                          '(unreadable for 60 s).')
  assert os.listdir(tmp_path) == []


def test_lock_is_released_on_an_exception_and_never_removes_anothers(tmp_path):
  workdir = workdir_lib.Workdir(tmp_path / 'run')
  with pytest.raises(KeyboardInterrupt):
    with workdir.lock():
      raise KeyboardInterrupt
  assert not workdir.lock_file.exists()
  with workdir.lock():
    workdir.lock_file.write_text(json.dumps({'pid': 1, 'host': 'elsewhere'}))
  assert json.loads(workdir.lock_file.read_text()) == {'pid': 1, 'host': 'elsewhere'}


# Leftovers ---------------------------------------------------------------------
@pytest.mark.large
def test_clean_leftovers_removes_what_a_killed_save_left_and_nothing_else(tmp_path):
  workdir = workdir_lib.Workdir(tmp_path / 'run')
  checkpoints = workdir.checkpoints
  # A real killed save: SIGKILL once the third save has started writing its shards.
  saver = _start(SAVER, checkpoints)
  try:
    _wait_for(saver, 'saving 3')
    deadline = time.monotonic() + 60
    while not (checkpoints / 'ckpt-3_temp').exists():
      assert time.monotonic() < deadline, 'the save never started writing'
      time.sleep(0.005)
  finally:
    _kill(saver)
  # A real leftover of an atomic write: the writer killed inside it.
  writer = _start(WRITER, workdir.path / 'reconstructions/video_00000.mp4')
  try:
    dead_tmp = _wait_for(writer, str(workdir.path))
  finally:
    _kill(writer)
  # What must stay: user files, names like ours that are not ours, a live writer's
  # temporary file, another host's, and the complete checkpoints.
  keep = ['notes.txt', '.hidden', 'ckpt-3_temp_notes/a.txt',
          'reconstructions/.x.mp4.1234abcd.mp4',
          f'.metrics.json.tmp-{files.host_tag()}-{os.getpid()}-abcdefgh.json',
          '.metrics.json.tmp-otherhost-1-abcdefgh.json', 'checkpoints/my_backup/ckpt-1.index']
  for name in keep:
    (workdir.path / name).parent.mkdir(parents=True, exist_ok=True)
    (workdir.path / name).write_text('keep')
  (workdir.path / '.scratch_worker_1/ckpt-5_temp').mkdir(parents=True)
  before = set(os.listdir(checkpoints))
  assert 'ckpt-3_temp' in before and 'ckpt-3.index' not in before, before

  messages = []
  removed = workdir.clean_leftovers(log=messages.append)

  after = set(os.listdir(checkpoints))
  complete = {name for name in before if name.endswith('.index')}
  assert after == {'checkpoint', 'my_backup'} | complete | {
      name.replace('.index', '.data-00000-of-00001') for name in complete}
  assert {'ckpt-1.index', 'ckpt-2.index'} <= complete
  assert checkpoints / 'ckpt-3_temp' in removed
  assert workdir.path / '.scratch_worker_1' in removed
  assert os.path.normpath(dead_tmp) in map(str, removed)
  assert len(removed) == len(before - after) + 2
  assert messages == [f'Removed {p}, left by an interrupted run.' for p in removed]
  for name in keep:
    assert (workdir.path / name).read_text() == 'keep', name
  # The newest complete checkpoint still restores; a second pass finds nothing.
  import tensorflow as tf
  latest = tf.train.latest_checkpoint(str(checkpoints))
  assert latest.endswith('ckpt-2')
  assert tf.train.load_checkpoint(latest).get_tensor(
      'v/.ATTRIBUTES/VARIABLE_VALUE').shape == (32, 1024, 1024)
  assert workdir.clean_leftovers(log=messages.append) == []
