"""Export and serving: SavedModel layout, signatures, TF-only equivalence, protocols.

TF Serving's binary cannot run here, so everything around it runs for real: a
`small` model trained once for this module, exported, loaded in a subprocess
that imports only TensorFlow and compared with the library, `saved_model_cli`,
the version layout, the refusals, and the client's REST and gRPC encodings
against stand-in servers on 127.0.0.1 that answer from the loaded SavedModel.
"""

import concurrent.futures
import http.server
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import threading

from absl import flags as absl_flags
import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_service_pb2_grpc

from export import client
from export import export_decoder
from export import serving_module
from inrv_tf import workdir as workdir_lib
from inrv_tf import config as config_lib
from inrv_tf.data import pipeline
from inrv_tf.model import render
from inrv_tf.apps import sampling
from inrv_tf.train import loop

NAME = 'balls'
NUM_VIDEOS = 3
BUDGET = 4 * 8 * 32 * 32  # Four training-size videos.


def _size(frames, height, width):
  return {'frames': tf.constant(frames), 'height': tf.constant(height),
          'width': tf.constant(width)}


def _library_video(model, z, frames, height, width) -> np.ndarray:
  return pipeline.to_uint8(render.render_video(model, z, frames, height, width)).numpy()


def _assert_same_video(got, want):
  """uint8 equality up to float rounding that straddles .5 in a few pixels."""
  assert got.dtype == np.uint8 and got.shape == want.shape
  diff = np.abs(got.astype(np.int32) - want.astype(np.int32))
  assert diff.max() <= 1
  assert diff.mean() < 1e-3


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
  root = tmp_path_factory.mktemp('export')
  workdir = root / 'workdir'
  config = config_lib.small().replace(
      data={'data_dir': str(root / 'tfds'), 'num_videos': NUM_VIDEOS},
      train={'steps': 60, 'log_every': 1000, 'checkpoint_every': 1000})
  loop.run(config, workdir, log=lambda _: None)
  _, model = workdir_lib.load_model(workdir)
  return root, workdir, model


def _run_cli(argv):
  """Runs the export command line in this process, on flags of its own."""
  flag_values = export_decoder.define_flags(absl_flags.FlagValues())
  flag_values(['export_decoder'] + argv)
  return export_decoder.export_from_flags(flag_values)


@pytest.fixture(scope='module')
def exported(trained):
  """The model, exported by the command line: <root>/models/balls/1."""
  root, workdir, _ = trained
  _run_cli([f'--workdir={workdir}', f'--export_dir={root / "models"}', f'--name={NAME}',
            f'--max_pixels={BUDGET}'])
  return root / 'models' / NAME / '1'


@pytest.fixture(scope='module')
def loaded(exported):
  return tf.saved_model.load(str(exported))


class _TinyModule(tf.Module):
  """Stands in for InrvServingModule where only the files matter (fast to save)."""

  def __init__(self):
    super().__init__()
    self.scale = tf.Variable(2.0)
    self.call = tf.function(lambda x: {'y': x * self.scale},
                            input_signature=[tf.TensorSpec([None], tf.float32)])

  def signatures(self):
    return {'serving_default': self.call.get_concrete_function()}


# Layout and the command line --------------------------------------------------
def test_version_layout(trained, exported):
  for part in ('saved_model.pb', 'variables/variables.index',
               export_decoder.CONFIG_ASSET):
    assert (exported / part).is_file(), part
  config = config_lib.Config.from_json((exported / export_decoder.CONFIG_ASSET).read_text())
  assert config.model.num_videos == NUM_VIDEOS
  assert tf.saved_model.load(str(exported)).max_pixels.numpy() == BUDGET
  model_dir, module = trained[0] / 'versions' / NAME, _TinyModule()
  assert export_decoder.export_module(module, model_dir).name == '1'
  assert export_decoder.export_module(module, model_dir).name == '2'
  assert export_decoder.export_module(module, model_dir, version=7).name == '7'
  assert export_decoder.next_version(model_dir) == 8
  with pytest.raises(export_decoder.ExportError, match='exists'):
    export_decoder.export_module(module, model_dir, version=2)
  with pytest.raises(export_decoder.ExportError, match='positive'):
    export_decoder.export_module(module, model_dir, version=0)
  assert sorted(p.name for p in model_dir.iterdir()) == ['1', '2', '7']
  assert tf.saved_model.load(str(model_dir / '7')).signatures['serving_default'](
      tf.constant([1.5]))['y'].numpy().tolist() == [3.0]


def test_failed_export_leaves_nothing(trained, monkeypatch):
  model_dir = trained[0] / 'failed' / NAME

  def half_save(obj, path, signatures=None):
    (pathlib.Path(path) / 'saved_model.pb').write_bytes(b'half')
    raise RuntimeError('disk full')

  monkeypatch.setattr(tf.saved_model, 'save', half_save)
  with pytest.raises(RuntimeError, match='disk full'):
    export_decoder.export_module(_TinyModule(), model_dir)
  assert list(model_dir.iterdir()) == []  # No version, no .export-* temp folder.


def test_cli_fails_cleanly(trained, exported, capsys):
  root, workdir, _ = trained
  base = root / 'models'
  failures = {
      'bad checkpoint': [f'--workdir={workdir}', f'--checkpoint={root}/nope/ckpt-9'],
      'taken version': [f'--workdir={workdir}', '--version=1'],
      'not a workdir': [f'--workdir={root / "nothing"}'],
      'bad budget': [f'--workdir={workdir}', '--max_pixels=0'],
      'hidden name': [f'--workdir={workdir}', '--name=.tmp'],
  }
  for reason, argv in failures.items():
    with pytest.raises(SystemExit) as exit_info:
      _run_cli([f'--export_dir={base}', f'--name={NAME}'] + argv)
    assert exit_info.value.code == 1, reason
    assert capsys.readouterr().err.startswith('error: '), reason
  assert [p.name for p in (base / NAME).iterdir()] == ['1']
  assert [p.name for p in base.iterdir()] == [NAME]


def test_saved_model_cli_lists_signatures(exported):
  command = ([shutil.which('saved_model_cli')] if shutil.which('saved_model_cli') else
             [sys.executable, '-m', 'tensorflow.python.tools.saved_model_cli'])
  result = subprocess.run(command + ['show', '--dir', str(exported), '--all'],
                          capture_output=True, text=True, timeout=120, check=True)
  text = result.stdout.split('Concrete Functions')[0]
  sections = dict(re.findall(r"signature_def\['(\w+)'\]:(.*?)(?=signature_def\[|\Z)",
                             text, re.S))
  assert set(serving_module.SIGNATURES) <= set(sections)
  dim = config_lib.small().model.latent_dim
  size = {'frames': ('DT_INT32', '()'), 'height': ('DT_INT32', '()'),
          'width': ('DT_INT32', '()')}
  video = {'video': ('DT_UINT8', '(-1, -1, -1, -1, 3)')}
  expected = {
      'serving_default': ({'z': ('DT_FLOAT', f'(-1, {dim})'), **size}, video),
      'render': ({'z': ('DT_FLOAT', f'(-1, {dim})'), **size}, video),
      'reconstruct': ({'video_ids': ('DT_INT32', '(-1)'), **size}, video),
      'sample': ({'count': ('DT_INT32', '()'), 'seed': ('DT_INT32', '()'), **size},
                 {**video, 'z': ('DT_FLOAT', f'(-1, {dim})')}),
      'interpolate': ({'z0': ('DT_FLOAT', f'({dim})'), 'z1': ('DT_FLOAT', f'({dim})'),
                       'steps': ('DT_INT32', '()'), **size},
                      {**video, 'z': ('DT_FLOAT', f'(-1, {dim})')}),
  }
  for name, (inputs, outputs) in expected.items():
    body = sections[name]
    ins, outs = body.split('The given SavedModel SignatureDef contains the following output')
    for part, tensors in ((ins, inputs), (outs, outputs)):
      found = dict((n, (d, s.replace(',)', ')')))
                   for n, d, s in re.findall(r"\['(\w+)'\] tensor_info:\s+dtype: (\w+)\s+"
                                             r"shape: (\([^)]*\))", part))
      assert found == tensors, (name, found)


# The SavedModel where only TensorFlow is imported ------------------------------
TF_ONLY_SCRIPT = r'''
import json, sys
import numpy as np
import tensorflow as tf

path, inputs_path, out_path = sys.argv[1:4]
x = dict(np.load(inputs_path))
sig = tf.saved_model.load(path).signatures
def size(t, h, w):
  return dict(frames=tf.constant(t), height=tf.constant(h), width=tf.constant(w))
out = {}
z = tf.constant(x['z'])
out['render'] = sig['render'](z=z, **size(8, 32, 32))['video']
out['serving_default'] = sig['serving_default'](z=z, **size(8, 32, 32))['video']
out['render_odd'] = sig['render'](z=tf.constant(x['z_random']), **size(3, 17, 23))['video']
out['reconstruct'] = sig['reconstruct'](video_ids=tf.constant([2, 0]), **size(8, 32, 32))['video']
out['reconstruct_large'] = sig['reconstruct'](video_ids=tf.constant([1]), **size(2, 48, 40))['video']
s = sig['sample'](count=tf.constant(3), seed=tf.constant(11), **size(4, 16, 16))
out['sample_video'], out['sample_z'] = s['video'], s['z']
i = sig['interpolate'](z0=z[0], z1=z[1], steps=tf.constant(4), **size(4, 16, 16))
out['interpolate_video'], out['interpolate_z'] = i['video'], i['z']
try:
  sig['render'](z=tf.concat([z, z], 0), **size(8, 32, 32))
  error = ''
except tf.errors.InvalidArgumentError as e:
  error = e.message
out = {k: v.numpy() for k, v in out.items()}

# TF Serving's loader: a session restores the variables and runs the signature
# graphs by tensor name (what `saved_model_cli run` does too).
feeds = {
    'render': dict(z=x['z'], frames=8, height=32, width=32),
    'reconstruct': dict(video_ids=np.array([2, 0], np.int32), frames=8, height=32, width=32),
    'sample': dict(count=3, seed=11, frames=4, height=16, width=16),
    'interpolate': dict(z0=x['z'][0], z1=x['z'][1], steps=4, frames=4, height=16, width=16),
}
with tf.Graph().as_default(), tf.compat.v1.Session() as session:
  meta_graph = tf.compat.v1.saved_model.load(session, ['serve'], path)
  def run(name, values):
    signature = meta_graph.signature_def[name]
    return session.run({k: v.name for k, v in signature.outputs.items()},
                       {signature.inputs[k].name: np.asarray(v, np.float32 if k[0] == 'z'
                                                             else np.int32)
                        for k, v in values.items()})
  for name, values in feeds.items():
    for key, value in run(name, values).items():
      out[f'session_{name}_{key}'] = value
  try:
    run('render', dict(feeds['render'], z=np.concatenate([x['z'], x['z']])))
    session_error = ''
  except tf.errors.InvalidArgumentError as e:
    session_error = e.message
np.savez(out_path, error=np.array(error), session_error=np.array(session_error), **out)
assert 'inrv_tf' not in sys.modules and 'keras_cv' not in sys.modules, sorted(sys.modules)
'''


def test_tf_only_process_matches_library(trained, exported, tmp_path):
  model = trained[2]
  codes = model.latents.codes.numpy()
  z_random = np.random.default_rng(0).normal(0, 0.02, [2, codes.shape[1]]).astype(np.float32)
  np.savez(tmp_path / 'in.npz', z=codes, z_random=z_random)
  # Outside the repository, without PYTHONPATH: inrv_tf cannot even be found.
  env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
  subprocess.run([sys.executable, '-c', TF_ONLY_SCRIPT, str(exported),
                  str(tmp_path / 'in.npz'), str(tmp_path / 'out.npz')],
                 cwd=tmp_path, env=env, check=True, timeout=180)
  out = np.load(tmp_path / 'out.npz')

  want = _library_video(model, codes, 8, 32, 32)
  _assert_same_video(out['render'], want)
  np.testing.assert_array_equal(out['serving_default'], out['render'])
  _assert_same_video(out['render_odd'], _library_video(model, z_random, 3, 17, 23))
  _assert_same_video(out['reconstruct'], want[[2, 0]])
  _assert_same_video(out['reconstruct_large'],
                     _library_video(model, model.latent(tf.constant([1])), 2, 48, 40))
  # The library's sampler draws the same codes from the same seed.
  np.testing.assert_allclose(out['sample_z'], sampling.slerp_samples(codes, 3, 11),
                             atol=1e-7)
  np.testing.assert_allclose(out['sample_z'],
                             sampling.slerp_sample_tensor(codes, 3, 11), atol=1e-7)
  _assert_same_video(out['sample_video'], _library_video(model, out['sample_z'], 4, 16, 16))
  path = sampling.interpolation_codes(codes[0], codes[1], 4)
  np.testing.assert_allclose(out['interpolate_z'], path, atol=1e-7)
  np.testing.assert_allclose(out['interpolate_z'][[0, -1]], codes[:2], atol=1e-7)
  _assert_same_video(out['interpolate_video'], _library_video(model, path, 4, 16, 16))
  assert f'max_pixels={BUDGET}' in str(out['error'])
  # The session-based loader (TF Serving's) gives the same answers and refusals.
  same = {'render_video': 'render', 'reconstruct_video': 'reconstruct',
          'sample_video': 'sample_video', 'sample_z': 'sample_z',
          'interpolate_video': 'interpolate_video', 'interpolate_z': 'interpolate_z'}
  for session_key, key in same.items():
    np.testing.assert_array_equal(out[f'session_{session_key}'], out[key])
  assert f'max_pixels={BUDGET}' in str(out['session_error'])


# Sampling follows the official scheme -------------------------------------------
def test_sample_codes_lie_between_two_distinct_learned_codes():
  codes = np.eye(5, 8, dtype=np.float32)  # Orthonormal: slerp stays on the unit circle.
  z = sampling.slerp_sample_tensor(codes, 200, 3).numpy()
  np.testing.assert_allclose(np.linalg.norm(z, axis=1), 1.0, atol=1e-5)
  weights = z[:, :5]
  assert np.all(weights >= -1e-6) and np.allclose(z[:, 5:], 0.0)
  # Two distinct codes: z = cos(t pi/2) e_i + sin(t pi/2) e_j, i != j; only a t
  # within ~1e-4 of 0 or 1 leaves a single visible weight.
  used = np.sum(weights > 1e-4, axis=1)
  assert set(used) <= {1, 2} and np.mean(used == 2) > 0.98
  # t ~ U(0, 1), so min(t, 1 - t) ~ U(0, 0.5): mean 0.25 (std of the mean 0.01).
  near = np.arctan2(np.min(np.sort(weights, 1)[:, -2:], 1), np.max(weights, 1)) / (np.pi / 2)
  assert abs(np.mean(near) - 0.25) < 0.04
  np.testing.assert_array_equal(sampling.slerp_sample_tensor(codes, 200, 3), z)
  assert not np.allclose(sampling.slerp_sample_tensor(codes, 200, 4), z)
  one = sampling.slerp_sample_tensor(codes[:1], 4, 0).numpy()
  np.testing.assert_allclose(one, np.repeat(codes[:1], 4, 0), atol=1e-6)


# Refusals -----------------------------------------------------------------------
def _refusals(codes):
  z = tf.constant(codes)
  return {
      'over budget': (lambda s: s['render'](z=tf.concat([z, z], 0), **_size(8, 32, 32)),
                      f'max_pixels={BUDGET}'),
      'zero frames': (lambda s: s['render'](z=z, **_size(0, 32, 32)), 'frames must be >= 1'),
      'negative width': (lambda s: s['render'](z=z, **_size(8, 32, -4)), 'width must be >= 1'),
      'absurd height': (lambda s: s['render'](z=z[:1], **_size(1, 5000, 1)),
                        f'height must be <= {serving_module.MAX_SIDE}'),
      'absurd frames': (lambda s: s['render'](z=z[:1], **_size(100000, 1, 1)),
                        f'frames must be <= {serving_module.MAX_FRAMES}'),
      'no codes': (lambda s: s['render'](z=z[:0], **_size(1, 1, 1)), 'must be >= 1'),
      'nan code': (lambda s: s['render'](z=z * np.nan, **_size(1, 1, 1)), 'finite'),
      'id too large': (lambda s: s['reconstruct'](video_ids=tf.constant([NUM_VIDEOS]),
                                                   **_size(1, 4, 4)), f'< {NUM_VIDEOS}'),
      'negative id': (lambda s: s['reconstruct'](video_ids=tf.constant([-1]),
                                                  **_size(1, 4, 4)), '>= 0'),
      'zero count': (lambda s: s['sample'](count=tf.constant(0), seed=tf.constant(0),
                                            **_size(1, 4, 4)), 'must be >= 1'),
      'sample over budget': (lambda s: s['sample'](count=tf.constant(5), seed=tf.constant(0),
                                                    **_size(8, 32, 32)), 'max_pixels'),
      'zero steps': (lambda s: s['interpolate'](z0=z[0], z1=z[1], steps=tf.constant(0),
                                                 **_size(1, 4, 4)), 'must be >= 1'),
  }


def test_refusals_reach_the_caller(trained, loaded):
  for reason, (call, message) in _refusals(trained[2].latents.codes.numpy()).items():
    with pytest.raises(tf.errors.InvalidArgumentError) as error:
      call(loaded.signatures)
    assert message in error.value.message, reason
  # Exactly at the budget renders.
  video = loaded.signatures['sample'](count=tf.constant(4), seed=tf.constant(0),
                                      **_size(8, 32, 32))['video']
  assert video.shape == (4, 8, 32, 32, 3)


# Stand-in servers: TF Serving's protocols, answered from the loaded SavedModel ---
def _call_signature(loaded, name, inputs):
  """Casts inputs to the signature's dtypes (as TF Serving does) and calls it."""
  fn = loaded.signatures[name]
  specs = fn.structured_input_signature[1]
  return {k: v.numpy() for k, v in fn(**{k: tf.constant(inputs[k], specs[k].dtype)
                                         for k in specs}).items()}


class _PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):

  def __init__(self, loaded):
    self.loaded = loaded

  def Predict(self, request, context):
    if request.model_spec.name != NAME:
      context.abort(grpc.StatusCode.NOT_FOUND, f'Servable not found: {request.model_spec.name}')
    inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
    try:
      outputs = _call_signature(self.loaded, request.model_spec.signature_name or
                                'serving_default', inputs)
    except tf.errors.InvalidArgumentError as e:
      context.abort(grpc.StatusCode.INVALID_ARGUMENT, e.message)
    response = predict_pb2.PredictResponse()
    response.model_spec.CopyFrom(request.model_spec)
    for k, v in outputs.items():
      response.outputs[k].CopyFrom(tf.make_tensor_proto(v))
    return response


@pytest.fixture(scope='module')
def grpc_server(loaded):
  server = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=2),
                       options=[('grpc.max_send_message_length', -1),
                                ('grpc.max_receive_message_length', -1)])
  prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
      _PredictionService(loaded), server)
  port = server.add_insecure_port('127.0.0.1:0')
  server.start()
  yield f'127.0.0.1:{port}'
  server.stop(grace=None)


def test_grpc_request_encoding():
  inputs = client.make_inputs('sample', count=2, seed=7, frames=4, height=8, width=8)
  request = client.encode_grpc(NAME, 'sample', inputs, version=3)
  assert (request.model_spec.name, request.model_spec.signature_name,
          request.model_spec.version.value) == (NAME, 'sample', 3)
  assert request.inputs['count'].dtype == tf.int32.as_datatype_enum
  assert request.inputs['count'].tensor_shape.dim == []
  assert tf.make_ndarray(request.inputs['seed']) == 7
  request = client.encode_grpc(NAME, 'render', client.make_inputs(
      'render', z=np.zeros([2, 32]), frames=1, height=2, width=3))
  assert request.inputs['z'].dtype == tf.float32.as_datatype_enum
  assert [d.size for d in request.inputs['z'].tensor_shape.dim] == [2, 32]
  with pytest.raises(ValueError, match='missing'):
    client.make_inputs('sample', count=2, frames=4, height=8, width=8)


def test_grpc_round_trip(trained, loaded, grpc_server):
  codes = trained[2].latents.codes.numpy()
  cases = {
      'sample': dict(count=2, seed=5, frames=4, height=24, width=20),
      'interpolate': dict(z0=codes[0], z1=codes[2], steps=3, frames=2, height=8, width=8),
      'reconstruct': dict(video_ids=[1, 2], frames=8, height=32, width=32),
      'serving_default': dict(z=codes[:1], frames=2, height=8, width=8),
  }
  for signature, values in cases.items():
    inputs = client.make_inputs(signature, **values)
    got = client.predict('grpc', grpc_server, NAME, signature, inputs, timeout=60)
    want = _call_signature(loaded, signature, inputs)
    assert sorted(got) == sorted(want) == sorted(client.SIGNATURE_OUTPUTS[signature])
    for name in want:
      assert got[name].dtype == want[name].dtype
      np.testing.assert_array_equal(got[name], want[name])
  with pytest.raises(client.ServingError, match=f'(?s)INVALID_ARGUMENT.*max_pixels={BUDGET}'):
    client.predict('grpc', grpc_server, NAME, 'sample', client.make_inputs(
        'sample', count=5, seed=0, frames=8, height=32, width=32), timeout=60)


def _rest_handler(loaded):

  class Handler(http.server.BaseHTTPRequestHandler):

    def do_POST(self):  # pylint: disable=invalid-name
      match = re.fullmatch(rf'/v1/models/{NAME}(/versions/\d+)?:predict', self.path)
      body = json.loads(self.rfile.read(int(self.headers['Content-Length'])))
      try:
        if not match:
          raise LookupError(f'Servable not found for request: {self.path}')
        outputs = _call_signature(loaded, body.get('signature_name', 'serving_default'),
                                  body['inputs'])
        outputs = {k: v.tolist() for k, v in outputs.items()}
        # TF Serving drops the names of a one-output signature.
        reply, status = {'outputs': outputs if len(outputs) > 1 else
                         next(iter(outputs.values()))}, 200
      except (tf.errors.InvalidArgumentError, LookupError) as e:
        reply, status = {'error': getattr(e, 'message', str(e))}, 400
      data_out = json.dumps(reply).encode()
      self.send_response(status)
      self.send_header('Content-Type', 'application/json')
      self.send_header('Content-Length', str(len(data_out)))
      self.end_headers()
      self.wfile.write(data_out)

    def log_message(self, *args):
      pass

  return Handler


@pytest.fixture(scope='module')
def rest_server(loaded):
  server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _rest_handler(loaded))
  thread = threading.Thread(target=server.serve_forever, kwargs={'poll_interval': 0.1},
                            daemon=True)
  thread.start()
  yield f'127.0.0.1:{server.server_address[1]}'
  server.shutdown()
  server.server_close()
  thread.join(timeout=10)


def test_rest_encoding_is_columnar():
  inputs = client.make_inputs('render', z=np.full([2, 3], 0.5), frames=4, height=8,
                              width=6)
  body = json.loads(client.encode_rest('render', inputs))
  assert body == {'signature_name': 'render',
                  'inputs': {'z': [[0.5] * 3] * 2, 'frames': 4, 'height': 8, 'width': 6}}
  assert client.rest_url('localhost:8501', NAME) == (
      f'http://localhost:8501/v1/models/{NAME}:predict')
  assert client.rest_url('http://h:1/', NAME, 2) == f'http://h:1/v1/models/{NAME}/versions/2:predict'
  one = client.decode_rest('reconstruct', json.dumps({'outputs': [[[[[0, 255, 7]]]]]}))
  assert one['video'].dtype == np.uint8 and one['video'].shape == (1, 1, 1, 1, 3)
  two = client.decode_rest('sample', {'outputs': {'video': [[[[[1, 2, 3]]]]], 'z': [[0.25]]}})
  assert two['z'].dtype == np.float32 and two['z'][0, 0] == 0.25
  with pytest.raises(client.ServingError, match='boom'):
    client.decode_rest('render', '{"error": "boom"}')


def test_rest_round_trip(trained, loaded, rest_server):
  codes = trained[2].latents.codes.numpy()
  cases = {
      'render': dict(z=codes, frames=3, height=10, width=12),
      'sample': dict(count=2, seed=9, frames=2, height=16, width=16),
      'reconstruct': dict(video_ids=[0], frames=8, height=32, width=32),
  }
  for signature, values in cases.items():
    inputs = client.make_inputs(signature, **values)
    got = client.predict('rest', rest_server, NAME, signature, inputs, version=1,
                         timeout=60)
    want = _call_signature(loaded, signature, inputs)
    assert sorted(got) == sorted(want)
    for name in want:
      assert got[name].dtype == want[name].dtype
      np.testing.assert_array_equal(got[name], want[name])
  with pytest.raises(client.ServingError, match=f'(?s)HTTP 400.*max_pixels={BUDGET}'):
    client.predict('rest', rest_server, NAME, 'render', client.make_inputs(
        'render', z=np.concatenate([codes, codes]), frames=8, height=32, width=32))
  with pytest.raises(client.ServingError, match='Servable not found'):
    client.predict('rest', rest_server, 'other', 'sample', client.make_inputs(
        'sample', count=1, seed=0, frames=1, height=1, width=1))


def test_client_command_line_writes_videos(loaded, rest_server, tmp_path):
  """The REST client needs no TensorFlow: its command line runs fast."""
  out = tmp_path / 'sample.mp4'
  result = subprocess.run(
      [sys.executable, '-m', 'export.client', '--protocol=rest', f'--server={rest_server}',
       f'--model={NAME}', '--signature=sample', '--count=2', '--seed=4', '--frames=4',
       '--height=32', '--width=32', f'--out={out}', f'--codes_out={tmp_path / "z.npy"}'],
      cwd=pathlib.Path(__file__).resolve().parent.parent, capture_output=True, text=True,
      timeout=120)
  assert result.returncode == 0, result.stderr
  want = _call_signature(loaded, 'sample', client.make_inputs(
      'sample', count=2, seed=4, frames=4, height=32, width=32))
  np.testing.assert_array_equal(np.load(tmp_path / 'z.npy'), want['z'])
  from inrv_tf import files
  for i, path in enumerate(client.video_paths(out, 2)):
    video = files.read_video(path)
    assert video.shape == (4, 32, 32, 3)
    # mp4 is lossy: close, not equal.
    assert np.abs(video.astype(float) - want['video'][i]).mean() < 8.0


def test_models_config_example_parses():
  from google.protobuf import text_format
  from tensorflow_serving.config import model_server_config_pb2
  path = pathlib.Path(export_decoder.__file__).with_name('models.config')
  config = text_format.Parse(path.read_text(), model_server_config_pb2.ModelServerConfig())
  models = config.model_config_list.config
  assert [(m.name, m.base_path, m.model_platform) for m in models] == [
      (NAME, f'/models/{NAME}', 'tensorflow'),
      ('how2sign_faces', '/models/how2sign_faces', 'tensorflow')]
  assert dict(models[1].version_labels) == {'stable': 1, 'canary': 2}
