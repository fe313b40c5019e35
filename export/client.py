"""A small client for INR-V decoders behind TF Serving (REST or gRPC).

    python -m export.client --protocol=rest --server=localhost:8501 --model=balls \
        --signature=sample --count=2 --seed=7 --frames=8 --height=64 --width=64 \
        --out=/tmp/sample.mp4 --codes_out=/tmp/sample_z.npy
    python -m export.client --protocol=grpc --server=localhost:8500 --model=balls \
        --signature=interpolate --z0=a.npy --z1=b.npy --steps=5 --out=/tmp/walk.gif

Encoding and decoding are plain functions, apart from the transport, so they
can be tested without a server: REST sends TF Serving's columnar JSON form
({"signature_name": ..., "inputs": {...}}, needed because the sizes are
scalars beside a batch), gRPC a `predict_pb2.PredictRequest`. Signatures and
shapes: export/serving_module.py.
"""

from __future__ import annotations

import json
import pathlib
import urllib.error
import urllib.request

import numpy as np

_SIZE = {'frames': np.int32, 'height': np.int32, 'width': np.int32}
SIGNATURE_INPUTS = {
    'render': {'z': np.float32, **_SIZE},
    'reconstruct': {'video_ids': np.int32, **_SIZE},
    'sample': {'count': np.int32, 'seed': np.int32, **_SIZE},
    'interpolate': {'z0': np.float32, 'z1': np.float32, 'steps': np.int32, **_SIZE},
}
SIGNATURE_OUTPUTS = {
    'render': {'video': np.uint8},
    'reconstruct': {'video': np.uint8},
    'sample': {'video': np.uint8, 'z': np.float32},
    'interpolate': {'video': np.uint8, 'z': np.float32},
}
for _table in (SIGNATURE_INPUTS, SIGNATURE_OUTPUTS):
  _table['serving_default'] = _table['render']
DEFAULT_PORTS = {'rest': 8501, 'grpc': 8500}


class ServingError(RuntimeError):
  """The server refused the request (its message inside) or could not be reached."""


def make_inputs(signature: str, **values) -> dict[str, np.ndarray]:
  """Casts a signature's inputs to its dtypes (z, z0, z1 f32; the rest int32).

  Raises:
    ValueError: an unknown signature, or missing or unexpected inputs.
  """
  if signature not in SIGNATURE_INPUTS:
    raise ValueError(f'Unknown signature {signature!r}; expected one of '
                     f'{sorted(SIGNATURE_INPUTS)}.')
  dtypes = SIGNATURE_INPUTS[signature]
  missing = sorted(set(dtypes) - set(values))
  extra = sorted(set(values) - set(dtypes))
  if missing or extra:
    raise ValueError(f'Signature {signature!r} takes inputs {sorted(dtypes)}: '
                     f'missing {missing}, unexpected {extra}.')
  return {name: np.asarray(values[name], dtype) for name, dtype in dtypes.items()}


def _typed_outputs(signature: str, outputs: dict) -> dict[str, np.ndarray]:
  dtypes = SIGNATURE_OUTPUTS[signature]
  return {name: np.asarray(outputs[name], dtypes.get(name)) for name in outputs}


# REST -------------------------------------------------------------------------
def rest_url(server: str, model: str, version: int | None = None) -> str:
  """http://server/v1/models/<model>[/versions/<version>]:predict."""
  base = server if '://' in server else f'http://{server}'
  path = f'/v1/models/{model}' + (f'/versions/{version}' if version else '')
  return f'{base.rstrip("/")}{path}:predict'


def encode_rest(signature: str, inputs: dict) -> bytes:
  """The columnar JSON body of a predict request."""
  body = {'signature_name': signature,
          'inputs': {name: np.asarray(value).tolist() for name, value in inputs.items()}}
  return json.dumps(body).encode()


def decode_rest(signature: str, body) -> dict[str, np.ndarray]:
  """A predict reply's JSON -> {output name: array}.

  TF Serving writes {"outputs": value} when a signature has one output and
  {"outputs": {name: value, ...}} otherwise; {"error": message} on failure.

  Raises:
    ServingError: an error reply.
  """
  reply = json.loads(body) if isinstance(body, (bytes, str)) else body
  if 'error' in reply:
    raise ServingError(reply['error'])
  outputs = reply['outputs']
  names = list(SIGNATURE_OUTPUTS[signature])
  if not isinstance(outputs, dict) or set(outputs) - set(names):
    outputs = {names[0]: outputs}  # The one-output form.
  return _typed_outputs(signature, outputs)


def predict_rest(server: str, model: str, signature: str, inputs: dict,
                 version: int | None = None, timeout: float = 300.0) -> dict:
  request = urllib.request.Request(
      rest_url(server, model, version), data=encode_rest(signature, inputs),
      headers={'Content-Type': 'application/json'}, method='POST')
  try:
    with urllib.request.urlopen(request, timeout=timeout) as response:
      return decode_rest(signature, response.read())
  except urllib.error.HTTPError as e:
    text = e.read().decode(errors='replace')
    try:
      message = json.loads(text)['error']
    except (ValueError, KeyError, TypeError):  # Not TF Serving's error form.
      message = text
    raise ServingError(f'HTTP {e.code}: {message}') from e
  except urllib.error.URLError as e:
    raise ServingError(f'Cannot reach {server}: {e.reason}') from e


# gRPC -------------------------------------------------------------------------
def encode_grpc(model: str, signature: str, inputs: dict, version: int | None = None):
  """A `predict_pb2.PredictRequest` for the signature."""
  import tensorflow as tf
  from tensorflow_serving.apis import predict_pb2
  request = predict_pb2.PredictRequest()
  request.model_spec.name = model
  request.model_spec.signature_name = signature
  if version:
    request.model_spec.version.value = version
  for name, value in inputs.items():
    request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
  return request


def decode_grpc(signature: str, response) -> dict[str, np.ndarray]:
  """A `predict_pb2.PredictResponse` -> {output name: array}."""
  import tensorflow as tf
  return _typed_outputs(signature, {name: tf.make_ndarray(proto)
                                    for name, proto in response.outputs.items()})


def predict_grpc(server: str, model: str, signature: str, inputs: dict,
                 version: int | None = None, timeout: float = 300.0) -> dict:
  import grpc
  from tensorflow_serving.apis import prediction_service_pb2_grpc
  # Videos outgrow gRPC's 4 MB default (TF Serving itself allows 2 GB).
  options = [('grpc.max_receive_message_length', -1),
             ('grpc.max_send_message_length', -1)]
  with grpc.insecure_channel(server, options=options) as channel:
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    try:
      response = stub.Predict(encode_grpc(model, signature, inputs, version),
                              timeout=timeout)
    except grpc.RpcError as e:
      raise ServingError(f'{e.code().name}: {e.details()}') from e
  return decode_grpc(signature, response)


def predict(protocol: str, server: str, model: str, signature: str, inputs: dict,
            version: int | None = None, timeout: float = 300.0) -> dict:
  """Sends one predict request; returns {output name: array}. Raises ServingError."""
  send = {'rest': predict_rest, 'grpc': predict_grpc}[protocol]
  return send(server, model, signature, inputs, version, timeout)


# Command line -----------------------------------------------------------------
def video_paths(out, count: int) -> list[pathlib.Path]:
  """out itself for one video; out_000.mp4, out_001.mp4, ... for several."""
  out = pathlib.Path(out)
  if count == 1:
    return [out]
  return [out.with_name(f'{out.stem}_{i:03d}{out.suffix}') for i in range(count)]


def _load_code(path, rank: int) -> np.ndarray:
  z = np.load(path).astype(np.float32)
  return z.reshape(-1) if rank == 1 else z.reshape(-1, z.shape[-1])


def _cli_inputs(FLAGS) -> dict:
  size = {'frames': FLAGS.frames, 'height': FLAGS.height, 'width': FLAGS.width}
  signature = FLAGS.signature
  need = {'render': ['z'], 'reconstruct': ['video_ids'], 'interpolate': ['z0', 'z1']}
  for flag in need.get(signature, []):
    if not getattr(FLAGS, flag):
      raise ValueError(f'--signature={signature} needs --{flag}.')
  if signature == 'render':
    return make_inputs(signature, z=_load_code(FLAGS.z, 2), **size)
  if signature == 'reconstruct':
    return make_inputs(signature, video_ids=[int(i) for i in FLAGS.video_ids], **size)
  if signature == 'sample':
    return make_inputs(signature, count=FLAGS.count, seed=FLAGS.seed, **size)
  return make_inputs(signature, z0=_load_code(FLAGS.z0, 1), z1=_load_code(FLAGS.z1, 1),
                     steps=FLAGS.steps, **size)


def main(argv):
  from absl import flags
  from inrv_tf import cli
  from inrv_tf import files
  FLAGS = flags.FLAGS
  cli.no_arguments(argv)
  server = FLAGS.server or f'localhost:{DEFAULT_PORTS[FLAGS.protocol]}'
  with cli.user_errors():
    inputs = _cli_inputs(FLAGS)
    try:
      outputs = predict(FLAGS.protocol, server, FLAGS.model, FLAGS.signature, inputs,
                        FLAGS.version, FLAGS.timeout)
    except ServingError as e:
      cli.fail(str(e))
    videos = outputs['video']
    for path, video in zip(video_paths(FLAGS.out, len(videos)), videos):
      files.write_video(path, video, fps=FLAGS.fps)
      print(f'Wrote {path} ({video.shape[0]} x {video.shape[1]} x {video.shape[2]})')
    if FLAGS.codes_out and 'z' in outputs:
      np.save(FLAGS.codes_out, outputs['z'])
      print(f'Wrote codes f32{list(outputs["z"].shape)} to {FLAGS.codes_out}')


def _define_flags():
  from absl import flags
  flags.DEFINE_string('server', None, 'host:port; default localhost:8501 (REST) or :8500 (gRPC).')
  flags.DEFINE_enum('protocol', 'rest', ['rest', 'grpc'], 'Transport.')
  flags.DEFINE_string('model', None, 'Model name on the server.', required=True)
  flags.DEFINE_integer('version', None, 'Model version (default: the one served).')
  flags.DEFINE_enum('signature', 'sample', sorted(SIGNATURE_INPUTS), 'Signature to call.')
  flags.DEFINE_integer('frames', 25, 'Frames to render.')
  flags.DEFINE_integer('height', 128, 'Height to render.')
  flags.DEFINE_integer('width', 128, 'Width to render.')
  flags.DEFINE_string('z', None, 'render: .npy of codes f32[N, D] (or [D]).')
  flags.DEFINE_list('video_ids', None, 'reconstruct: training video ids, e.g. 0,3,7.')
  flags.DEFINE_integer('count', 1, 'sample: number of videos.')
  flags.DEFINE_integer('seed', 0, 'sample: seed (same seed, same videos).')
  flags.DEFINE_string('z0', None, 'interpolate: .npy of the first code f32[D].')
  flags.DEFINE_string('z1', None, 'interpolate: .npy of the last code f32[D].')
  flags.DEFINE_integer('steps', 5, 'interpolate: videos along the path, ends included.')
  flags.DEFINE_string('out', 'video.mp4', 'Output .mp4/.gif (several videos: _000, _001, ...).')
  flags.DEFINE_string('codes_out', None, 'sample/interpolate: also save the codes (.npy).')
  flags.DEFINE_integer('fps', 10, 'Frames per second of the written video.')
  flags.DEFINE_float('timeout', 300.0, 'Seconds to wait for the reply.')


if __name__ == '__main__':
  from inrv_tf import cli as _cli
  _cli.run(main, _define_flags)
