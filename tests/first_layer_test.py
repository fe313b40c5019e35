"""benchmarks/first_layer.py: the fused first layer computes the matmul's layer."""

import json
import os
import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parent.parent


def test_every_fused_form_matches_the_matmul_and_is_timed():
  result = subprocess.run(
      [sys.executable, str(REPO / 'benchmarks' / 'first_layer.py'), '--frames=5', '--size=12',
       '--chunk_frames=2', '--num_frequencies=4', '--width=16', '--steps=1'],
      cwd=REPO, capture_output=True, text=True, timeout=300,
      env={**os.environ, 'TF_CPP_MIN_LOG_LEVEL': '2'})
  assert result.returncode == 0, result.stderr[-3000:]
  lines = [json.loads(line) for line in result.stdout.splitlines()]
  forms = {line['form']: line for line in lines if line['benchmark'] == 'first_layer'}
  assert set(forms) == {'matmul', 'grid', 'gather'}
  for line in forms.values():
    assert line['chunk_pixels'] == 2 * 12 * 12 and line['features'] == 3 + 6 * 4
    assert line['max_rel_diff'] < 1e-5 and line['median_s'] > 0
  assert lines[-1]['benchmark'] == 'matmul_ceiling'
