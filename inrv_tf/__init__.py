"""inrv_tf: INR-V, a continuous latent space of whole videos, in TensorFlow/Keras."""

__version__ = '0.1.0'
