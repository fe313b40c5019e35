"""VQ-VAE-2 (Razavi et al. 2019): a two-level vector-quantized autoencoder of frames.

    vqvae = VQVAE2(**SIZES['paper'])                  # or SIZES['small'] for tests
    recon, commitment = vqvae(frames, training=True)  # f32[N, H, W, 3] in [-1, 1], f32[]

INR-V uses it frame by frame as a denoiser (paper Section 4.2, `inrv_tf.denoiser`).
The bottom level quantizes a grid at 1/4 of the frame's side, the top level one
at 1/8 (128 x 128 frames: bottom 32 x 32, top 16 x 16 codes); the bottom code is
conditioned on the decoded top, and the decoder reads both. Codebooks learn by
exponential moving averages (van den Oord et al. 2017, appendix A.1), not by
gradients: the only loss the model adds is the commitment term.

References:
  van den Oord, Vinyals, Kavukcuoglu. Neural Discrete Representation Learning. 2017.
  Razavi, van den Oord, Vinyals. Generating Diverse High-Fidelity Images with VQ-VAE-2. 2019.
"""

from __future__ import annotations

import keras
import tensorflow as tf

# Razavi et al.'s sizes (hidden 128, residual hidden 64, 2 residual layers,
# 512 codes of 64 numbers per level), and a CPU-test shrink of them.
SIZES = {
    'paper': dict(hidden=128, res_hidden=64, res_layers=2, num_codes=512, code_dim=64),
    'small': dict(hidden=32, res_hidden=16, res_layers=1, num_codes=32, code_dim=16),
}
DOWNSAMPLE = 8  # The top level's stride: frame sides must be multiples of it.


@keras.saving.register_keras_serializable(package='inrv_tf')
class VectorQuantizerEMA(keras.layers.Layer):
  """Nearest-neighbour quantization to a codebook learned by moving averages.

  With counts n_i and sums s_i of the inputs assigned to code i in a batch, a
  training call updates (van den Oord et al., appendix A.1)
      N_i <- decay * N_i + (1 - decay) * n_i
      m_i <- decay * m_i + (1 - decay) * s_i
      e_i <- m_i / N~_i,  N~_i = (N_i + epsilon) / (sum N + K * epsilon) * sum N
  (Laplace smoothing of N, as in Razavi et al.'s Sonnet code). N starts at 1
  and m at the codebook, so e = m / N holds from the start: one update moves
  a used code part of the way to the mean of its inputs.

  A code whose N falls below `restart_threshold` (it was used less than about
  once per batch lately) restarts at a random input of the batch, with N = 1
  (Dhariwal et al. 2020, Jukebox). The first update thus moves every unused
  code onto the data. Without restarts, frames that are mostly one colour
  (Moving-MNIST's black, bouncing balls) collapse the codebook to a couple of
  codes and the decoder to a constant frame.

  Args:
    num_codes: K, codebook size.
    dim: D, the length of a code (the input's last axis).
    decay: EMA decay.
    epsilon: Laplace smoothing of the counts.
    commitment_cost: beta of the commitment loss beta * mean((x - sg(e))^2).
    restart_threshold: N below which a code restarts (0: never).
    seed: of the restarts' draws.
  Call arguments:
    inputs: f32[..., D].
    training: update the codebook from this batch (after quantizing with the
      old one).
  Returns:
    (quantized f32[..., D], the straight-through estimate: the codes forward,
     identity backward; commitment_loss f32[]; codes int32[...]).
  """

  def __init__(self, num_codes: int, dim: int, decay: float = 0.99,
               epsilon: float = 1e-5, commitment_cost: float = 0.25,
               restart_threshold: float = 1.0, seed: int | None = None, **kwargs):
    super().__init__(**kwargs)
    self.num_codes, self.dim = int(num_codes), int(dim)
    self.decay, self.epsilon = float(decay), float(epsilon)
    self.commitment_cost = float(commitment_cost)
    self.restart_threshold, self.seed = float(restart_threshold), seed

  def build(self, input_shape):
    if input_shape[-1] != self.dim:
      raise ValueError(f'VectorQuantizerEMA of dim {self.dim} got inputs {input_shape}.')
    # Sonnet's codebook init: uniform variance scaling over the code's length.
    limit = (3.0 / self.dim) ** 0.5
    # Eager (Keras may build inside a scratch graph): one draw serves both variables.
    with tf.init_scope():
      init = keras.initializers.RandomUniform(-limit, limit)(
          (self.num_codes, self.dim)).numpy()
    self.codebook = self.add_weight(shape=(self.num_codes, self.dim), name='codebook',
                                    initializer=lambda *_, **__: init, trainable=False)
    self.cluster_size = self.add_weight(shape=(self.num_codes,), name='cluster_size',
                                        initializer='ones', trainable=False)
    self.code_sum = self.add_weight(shape=(self.num_codes, self.dim), name='code_sum',
                                    initializer=lambda *_, **__: init, trainable=False)
    # Restarts draw from (seed, updates so far): checkpointed, so a resumed run
    # draws what an unbroken one would.
    self.num_updates = self.add_weight(shape=(), dtype='int32', name='num_updates',
                                       initializer='zeros', trainable=False)

  def nearest(self, flat) -> tf.Tensor:
    """f32[n, D] -> int32[n], the index of each row's nearest code (L2)."""
    codebook = tf.convert_to_tensor(self.codebook)
    distances = (tf.reduce_sum(flat**2, 1, keepdims=True)
                 - 2.0 * tf.matmul(flat, codebook, transpose_b=True)
                 + tf.reduce_sum(codebook**2, 1)[None])          # [n, K]
    return tf.argmin(distances, axis=1, output_type=tf.int32)

  def update(self, flat, codes) -> None:
    """One EMA step of the codebook towards the inputs f32[n, D] assigned by codes int32[n]."""
    onehot = tf.one_hot(codes, self.num_codes, dtype=flat.dtype)   # [n, K]
    counts = tf.reduce_sum(onehot, 0)                               # [K]
    sums = tf.matmul(onehot, flat, transpose_a=True)                # [K, D]
    d = self.decay
    cluster_size = d * self.cluster_size + (1.0 - d) * counts
    code_sum = d * self.code_sum + (1.0 - d) * sums
    if self.restart_threshold > 0:
      key = tf.stack([tf.constant(self.seed or 0, tf.int32), self.num_updates.value])
      pick = tf.random.stateless_uniform([self.num_codes], key, 0, tf.shape(flat)[0],
                                         tf.int32)
      dead = (cluster_size < self.restart_threshold)[:, None]      # [K, 1]
      code_sum = tf.where(dead, tf.gather(flat, pick), code_sum)
      cluster_size = tf.where(dead[:, 0], tf.ones_like(cluster_size), cluster_size)
    total = tf.reduce_sum(cluster_size)
    smoothed = ((cluster_size + self.epsilon)
                / (total + self.num_codes * self.epsilon) * total)
    self.cluster_size.assign(cluster_size)
    self.code_sum.assign(code_sum)
    self.codebook.assign(code_sum / smoothed[:, None])
    self.num_updates.assign_add(1)

  def call(self, inputs, training=False):
    inputs = tf.convert_to_tensor(inputs, tf.float32)
    flat = tf.reshape(inputs, [-1, self.dim])                       # [..., D] -> [n, D]
    codes = self.nearest(flat)
    quantized = tf.reshape(tf.gather(self.codebook, codes), tf.shape(inputs))
    if training:
      self.update(tf.stop_gradient(flat), codes)
    commitment = self.commitment_cost * tf.reduce_mean(
        tf.square(inputs - tf.stop_gradient(quantized)))
    straight_through = inputs + tf.stop_gradient(quantized - inputs)
    return straight_through, commitment, tf.reshape(codes, tf.shape(inputs)[:-1])

  def get_config(self):
    return {**super().get_config(), 'num_codes': self.num_codes, 'dim': self.dim,
            'decay': self.decay, 'epsilon': self.epsilon,
            'commitment_cost': self.commitment_cost,
            'restart_threshold': self.restart_threshold, 'seed': self.seed}


@keras.saving.register_keras_serializable(package='inrv_tf')
class ResidualStack(keras.layers.Layer):
  """`num_layers` blocks x + conv1x1(relu(conv3x3(relu(x)))), then a ReLU.

  Call: f32[N, h, w, hidden] -> f32[N, h, w, hidden].
  """

  def __init__(self, hidden: int, res_hidden: int, num_layers: int, **kwargs):
    super().__init__(**kwargs)
    self.hidden, self.res_hidden, self.num_layers = hidden, res_hidden, num_layers
    # Sublayers are attributes, not list items: tf.train.Checkpoint follows the
    # attributes of a Keras 3 layer, not Python lists (whose weights it would
    # then save only through the optimizer, and never restore into a model).
    for i in range(num_layers):
      setattr(self, f'res{i}_3x3', keras.layers.Conv2D(res_hidden, 3, padding='same',
                                                       name=f'res{i}_3x3'))
      setattr(self, f'res{i}_1x1', keras.layers.Conv2D(hidden, 1, name=f'res{i}_1x1'))

  def call(self, x):
    for i in range(self.num_layers):
      conv3, conv1 = getattr(self, f'res{i}_3x3'), getattr(self, f'res{i}_1x1')
      x = x + conv1(tf.nn.relu(conv3(tf.nn.relu(x))))
    return tf.nn.relu(x)

  def get_config(self):
    return {**super().get_config(), 'hidden': self.hidden, 'res_hidden': self.res_hidden,
            'num_layers': self.num_layers}


@keras.saving.register_keras_serializable(package='inrv_tf')
class Encoder(keras.layers.Layer):
  """Strided convolutions down by `stride` (2 or 4), a 3x3 conv, a residual stack.

  Call: f32[N, h, w, C] -> f32[N, h / stride, w / stride, hidden].
  """

  def __init__(self, hidden: int, res_hidden: int, res_layers: int, stride: int, **kwargs):
    super().__init__(**kwargs)
    if stride not in (2, 4):
      raise ValueError(f'Encoder stride must be 2 or 4, got {stride}.')
    self.hidden, self.res_hidden, self.res_layers, self.stride = (
        hidden, res_hidden, res_layers, stride)
    self.widths = [hidden // 2, hidden] if stride == 4 else [hidden // 2]
    for i, w in enumerate(self.widths):   # Attributes, not a list (see ResidualStack).
      setattr(self, f'down{i}', keras.layers.Conv2D(w, 4, strides=2, padding='same',
                                                    activation='relu', name=f'down{i}'))
    self.conv = keras.layers.Conv2D(hidden, 3, padding='same', name='conv')
    self.res = ResidualStack(hidden, res_hidden, res_layers, name='res')

  def call(self, x):
    for i in range(len(self.widths)):
      x = getattr(self, f'down{i}')(x)
    return self.res(self.conv(x))

  def get_config(self):
    return {**super().get_config(), 'hidden': self.hidden, 'res_hidden': self.res_hidden,
            'res_layers': self.res_layers, 'stride': self.stride}


@keras.saving.register_keras_serializable(package='inrv_tf')
class Decoder(keras.layers.Layer):
  """A 3x3 conv, a residual stack, transposed convolutions up by `stride` (2 or 4).

  Call: f32[N, h, w, C] -> f32[N, h * stride, w * stride, out_channels] (linear).
  """

  def __init__(self, hidden: int, out_channels: int, res_hidden: int, res_layers: int,
               stride: int, **kwargs):
    super().__init__(**kwargs)
    if stride not in (2, 4):
      raise ValueError(f'Decoder stride must be 2 or 4, got {stride}.')
    self.hidden, self.out_channels = hidden, out_channels
    self.res_hidden, self.res_layers, self.stride = res_hidden, res_layers, stride
    self.conv = keras.layers.Conv2D(hidden, 3, padding='same', name='conv')
    self.res = ResidualStack(hidden, res_hidden, res_layers, name='res')
    if stride == 4:
      self.up0 = keras.layers.Conv2DTranspose(hidden // 2, 4, strides=2, padding='same',
                                              activation='relu', name='up0')
    self.up_out = keras.layers.Conv2DTranspose(out_channels, 4, strides=2, padding='same',
                                               name='up_out')

  def call(self, x):
    x = self.res(self.conv(x))
    if self.stride == 4:
      x = self.up0(x)
    return self.up_out(x)

  def get_config(self):
    return {**super().get_config(), 'hidden': self.hidden,
            'out_channels': self.out_channels, 'res_hidden': self.res_hidden,
            'res_layers': self.res_layers, 'stride': self.stride}


@keras.saving.register_keras_serializable(package='inrv_tf')
class VQVAE2(keras.Model):
  """Two-level VQ-VAE: frames -> (top codes at 1/8, bottom codes at 1/4) -> frames.

  Args:
    hidden, res_hidden, res_layers: widths and depth of the encoders and decoders.
    num_codes, code_dim: each level's codebook size and code length.
    decay, epsilon, commitment_cost, restart_threshold: of both
      `VectorQuantizerEMA`s.
  Call arguments:
    frames: f32[N, H, W, 3] in [-1, 1], H and W multiples of 8.
    training: update the codebooks.
  Returns:
    (recon f32[N, H, W, 3] in [-1, 1] (clipped; the gradient passes the clip),
     commitment_loss f32[], the sum of both levels').
  """

  def __init__(self, hidden: int = 128, res_hidden: int = 64, res_layers: int = 2,
               num_codes: int = 512, code_dim: int = 64, decay: float = 0.99,
               epsilon: float = 1e-5, commitment_cost: float = 0.25,
               restart_threshold: float = 1.0, **kwargs):
    super().__init__(**kwargs)
    self._config = dict(hidden=hidden, res_hidden=res_hidden, res_layers=res_layers,
                        num_codes=num_codes, code_dim=code_dim, decay=decay,
                        epsilon=epsilon, commitment_cost=commitment_cost,
                        restart_threshold=restart_threshold)
    quantizer = dict(decay=decay, epsilon=epsilon, commitment_cost=commitment_cost,
                     restart_threshold=restart_threshold)
    self.encode_bottom = Encoder(hidden, res_hidden, res_layers, 4, name='encode_bottom')
    self.encode_top = Encoder(hidden, res_hidden, res_layers, 2, name='encode_top')
    self.pre_top = keras.layers.Conv2D(code_dim, 1, name='pre_top')
    self.quantize_top = VectorQuantizerEMA(num_codes, code_dim, name='quantize_top',
                                           seed=1, **quantizer)
    self.decode_top = Decoder(hidden, code_dim, res_hidden, res_layers, 2, name='decode_top')
    self.pre_bottom = keras.layers.Conv2D(code_dim, 1, name='pre_bottom')
    self.quantize_bottom = VectorQuantizerEMA(num_codes, code_dim, name='quantize_bottom',
                                              seed=2, **quantizer)
    self.upsample_top = keras.layers.Conv2DTranspose(code_dim, 4, strides=2, padding='same',
                                                     name='upsample_top')
    self.decode = Decoder(hidden, 3, res_hidden, res_layers, 4, name='decode')

  def encode(self, frames, training=False):
    """frames f32[N, H, W, 3] -> (top f32[N, H/8, W/8, D], bottom f32[N, H/4, W/4, D],
    commitment f32[], top codes int32[N, H/8, W/8], bottom codes int32[N, H/4, W/4])."""
    bottom = self.encode_bottom(frames)                              # [N, H/4, W/4, hidden]
    top = self.encode_top(bottom)                                    # [N, H/8, W/8, hidden]
    quant_top, loss_top, codes_top = self.quantize_top(self.pre_top(top), training=training)
    # The bottom code sees what the top code already says (Razavi et al., Fig. 2a).
    bottom = tf.concat([bottom, self.decode_top(quant_top)], axis=-1)
    quant_bottom, loss_bottom, codes_bottom = self.quantize_bottom(
        self.pre_bottom(bottom), training=training)
    return quant_top, quant_bottom, loss_top + loss_bottom, codes_top, codes_bottom

  def call(self, frames, training=False):
    frames = tf.convert_to_tensor(frames, tf.float32)
    quant_top, quant_bottom, commitment, _, _ = self.encode(frames, training)
    both = tf.concat([self.upsample_top(quant_top), quant_bottom], axis=-1)
    out = self.decode(both)
    # Clipped forward, identity backward: a tanh here saturated on the mostly
    # black frames of bouncing balls (every output stuck at -1, no gradient).
    return out + tf.stop_gradient(tf.clip_by_value(out, -1.0, 1.0) - out), commitment

  def get_config(self):
    return {**super().get_config(), **self._config}
