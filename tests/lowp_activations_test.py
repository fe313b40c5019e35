"""benchmarks/lowp_activations.py: both variants timed, each gradient measured."""

import json
import os
import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parent.parent


def test_low_precision_activations_are_timed_and_keep_the_gradient():
  """Both precisions in one process (one TensorFlow start-up), each with its ceiling."""
  result = subprocess.run(
      [sys.executable, str(REPO / 'benchmarks' / 'lowp_activations.py'), '--frames=5',
       '--size=24', '--chunk_pixels=1024', '--width=32', '--steps=1',
       '--precision=float16', '--precision=bfloat16'],
      cwd=REPO, capture_output=True, text=True, timeout=300,
      env={**os.environ, 'TF_CPP_MIN_LOG_LEVEL': '2'})
  assert result.returncode == 0, result.stderr[-3000:]
  lines = [json.loads(line) for line in result.stdout.splitlines()]
  assert [(line['benchmark'], line['precision']) for line in lines] == [
      ('lowp_activations', 'float16'), ('lowp_activations', 'float16'),
      ('matmul_ceiling', 'float16'),
      ('lowp_activations', 'bfloat16'), ('lowp_activations', 'bfloat16'),
      ('matmul_ceiling', 'bfloat16')]
  for precision in ('float16', 'bfloat16'):
    variants = {line['variant']: line for line in lines
                if line['benchmark'] == 'lowp_activations' and line['precision'] == precision}
    assert set(variants) == {'today', 'lowp_activations'}
    for line in variants.values():
      assert line['pixels'] == 5 * 24 * 24 and line['chunk_pixels'] == 1024
      assert line['median_s'] > 0
      assert 0 < line['grad_rel_error'] < 0.05     # float16 ~0.1%, bfloat16 1% to 4%
    # Keeping the activations low costs no more than a factor 2 of gradient error (a
    # bias gradient summed in the low precision would cost far more:
    # lowp_activations.add_bias).
    today, lowp = variants['today'], variants['lowp_activations']
    assert lowp['grad_rel_error'] < 2 * today['grad_rel_error'], (lowp, today)
