"""benchmarks/lowp_activations.py: both variants timed, each gradient measured."""

import json
import os
import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent


@pytest.mark.parametrize('precision', ['float16', 'bfloat16'])
def test_low_precision_activations_are_timed_and_keep_the_gradient(precision):
  result = subprocess.run(
      [sys.executable, str(REPO / 'benchmarks' / 'lowp_activations.py'), '--frames=5',
       '--size=24', '--chunk_pixels=1024', '--width=32', '--steps=1',
       f'--precision={precision}'],
      cwd=REPO, capture_output=True, text=True, timeout=300,
      env={**os.environ, 'TF_CPP_MIN_LOG_LEVEL': '2'})
  assert result.returncode == 0, result.stderr[-3000:]
  lines = [json.loads(line) for line in result.stdout.splitlines()]
  variants = {line['variant']: line for line in lines if line['benchmark'] == 'lowp_activations'}
  assert set(variants) == {'today', 'lowp_activations'}
  for line in variants.values():
    assert line['pixels'] == 5 * 24 * 24 and line['chunk_pixels'] == 1024
    assert line['precision'] == precision and line['median_s'] > 0
    assert 0 < line['grad_rel_error'] < 0.05     # float16 ~0.1%, bfloat16 1% to 4%
  # Keeping the activations low costs no more than a factor 2 of gradient error (a bias
  # gradient summed in the low precision would cost far more: lowp_activations.add_bias).
  today, lowp = variants['today'], variants['lowp_activations']
  assert lowp['grad_rel_error'] < 2 * today['grad_rel_error'], (lowp, today)
  assert lines[-1] == {**lines[-1], 'benchmark': 'matmul_ceiling', 'precision': precision}
