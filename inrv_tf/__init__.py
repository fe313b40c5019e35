"""inrv_tf: INR-V, a continuous latent space of whole videos, in TensorFlow/Keras."""

import os

# TensorFlow turns its oneDNN kernels on by default only on some x86 CPUs; on
# AMD EPYC machines they are off, and turning them on makes float32 matmuls and
# the training step markedly faster (benchmarks/README.md). The variable is read
# when TensorFlow is first imported, so it only takes effect when inrv_tf is
# imported first (as in every command line here); an explicit
# TF_ENABLE_ONEDNN_OPTS=0 is respected.
os.environ.setdefault('TF_ENABLE_ONEDNN_OPTS', '1')
# Quiet by default (inrv_tf.verbosity): TensorFlow's C++ INFO and WARNING lines
# off, errors on. The variable too is read when TensorFlow loads; a value the
# user set is respected, and a command's --verbose lifts the default.
USER_TF_CPP_MIN_LOG_LEVEL = os.environ.get('TF_CPP_MIN_LOG_LEVEL')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

__version__ = '0.1.0'
