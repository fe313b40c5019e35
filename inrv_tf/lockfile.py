"""A lock file: one owner at a time, named in the file, taken over from a dead one.

    with lockfile.hold('/runs/balls/train.lock', '--workdir /runs/balls', log=print):
      ...   # No other process holds it; the file is removed on the way out.

The file is JSON, {"pid", "host", "start", "since", "command"}, created with
O_CREAT | O_EXCL, so of two processes only one creates it. A second process
fails with LockError naming the owner's pid and host and the file. A lock of a
process of this host that no longer runs (its pid is gone, or now belongs to a
process started at another time) is stale: it is taken over, with a message.
A lock of another host is respected; the message says how to remove it once
that host's run is known to be gone. A process killed with SIGKILL leaves its
lock behind: the next one on the same host takes it over.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import socket
import sys
import time
import uuid
from typing import Callable

from inrv_tf import files

# A lock file that does not parse may be one being written: this old, it is not.
_UNREADABLE_GRACE_S = 5.0
_ATTEMPTS = 20


class LockError(ValueError):
  """The lock is held by another process (or cannot be taken)."""


def process_start(pid: int) -> str | None:
  """When process `pid` started (clock ticks since boot, /proc), or None if unknown."""
  try:
    stat = pathlib.Path(f'/proc/{pid}/stat').read_text()
  except OSError:
    return None
  return stat.rsplit(')', 1)[-1].split()[19]   # Field 22; the name may hold spaces.


def pid_alive(pid: int, start: str | None = None) -> bool:
  """Whether process `pid` of this host runs (and, given `start`, is the one started then)."""
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except PermissionError:
    pass                                         # Alive, another user's.
  now = process_start(pid) if start is not None else None
  return now is None or now == start


def _me() -> dict:
  return {'pid': os.getpid(), 'host': socket.gethostname(),
          'start': process_start(os.getpid()),
          'since': time.strftime('%Y-%m-%d %H:%M:%S %z'),
          'command': ' '.join(sys.argv)}


def _read(path: pathlib.Path) -> tuple[str, dict | None]:
  """(the file's text, its owner dict or None if it does not parse)."""
  text = path.read_text()
  try:
    owner = json.loads(text)
  except ValueError:
    return text, None
  ok = isinstance(owner, dict) and isinstance(owner.get('pid'), int) and 'host' in owner
  return text, owner if ok else None


def _held_message(path: pathlib.Path, what: str, owner: dict) -> str:
  since = f', since {owner["since"]}' if owner.get('since') else ''
  command = f' ({owner["command"]})' if owner.get('command') else ''
  if owner['host'] == socket.gethostname():
    return (f'{what} is in use: pid {owner["pid"]} on this host ({owner["host"]}) holds '
            f'the lock file {path}{since}{command}. Wait for it to end or stop it.')
  return (f'{what} is in use: pid {owner["pid"]} on host {owner["host"]} holds the lock '
          f'file {path}{since}{command}. This host ({socket.gethostname()}) cannot see '
          f'whether it still runs: stop it there, or, if it is gone, remove the lock file '
          f'(rm {path}).')


def _stale_reason(path: pathlib.Path, owner: dict | None) -> str | None:
  """Why the lock at `path` is stale (None: it is held)."""
  if owner is None:
    age = time.time() - path.stat().st_mtime
    return f'unreadable for {age:.0f} s' if age > _UNREADABLE_GRACE_S else None
  if owner['host'] == socket.gethostname() and not pid_alive(owner['pid'],
                                                             owner.get('start')):
    return f'pid {owner["pid"]} of this host no longer runs'
  return None


def _take_over(path: pathlib.Path, seen: str, reason: str, log) -> None:
  """Removes the stale lock `seen` at `path`, unless another process replaced it meanwhile.

  The lock is renamed away first, then checked: two processes taking over the
  same stale lock cannot remove each other's new one.
  """
  aside = path.parent / f'{files.temp_prefix(path.name)}{uuid.uuid4().hex[:8]}'
  try:
    os.rename(path, aside)
  except FileNotFoundError:
    return                                       # Another process took it over first.
  if aside.read_text() == seen:
    log(f'Took over the stale lock file {path} ({reason}).')
  else:                                          # A new lock: put it back.
    with contextlib.suppress(FileExistsError):
      os.link(aside, path)
  aside.unlink()


def acquire(path, what: str, log: Callable[[str], None] = print) -> dict:
  """Creates the lock file `path` as this process's; returns what it holds.

  Args:
    what: what the lock guards, for the message (e.g. '--workdir /runs/balls').
  Raises:
    LockError: another live process holds it (the message names it and the file).
  """
  path = pathlib.Path(path)
  me = _me()
  for _ in range(_ATTEMPTS):
    try:
      fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
    except FileExistsError:
      try:
        seen, owner = _read(path)
        reason = _stale_reason(path, owner)
      except FileNotFoundError:
        continue                                 # Released meanwhile: try again.
      if reason is None and owner is not None:
        raise LockError(_held_message(path, what, owner)) from None
      if reason is None:
        time.sleep(0.2)                          # Being written: read it again.
        continue
      _take_over(path, seen, reason, log)
      continue
    with os.fdopen(fd, 'w') as f:
      json.dump(me, f, indent=2)
      f.write('\n')
      f.flush()
      os.fsync(f.fileno())
    return me
  raise LockError(f'Cannot take the lock file {path} for {what}: it keeps changing. '
                  'Is another process starting on it?')


def release(path, me: dict) -> None:
  """Removes the lock file if it is still `me`'s (never another process's)."""
  path = pathlib.Path(path)
  with contextlib.suppress(FileNotFoundError):
    _, owner = _read(path)
    if owner is not None and all(owner.get(k) == me[k] for k in ('pid', 'host', 'start')):
      path.unlink()


@contextlib.contextmanager
def hold(path, what: str, log: Callable[[str], None] = print):
  """`acquire` on entry, `release` on the way out (exceptions included); yields the owner."""
  me = acquire(path, what, log)
  try:
    yield me
  finally:
    release(path, me)
