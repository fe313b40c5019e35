"""Every number inrv_tf uses, as frozen dataclasses that check themselves when built.

  training.py   a training run's Config (data, model, training), per-dataset
                defaults, the pixel chunk
  presets.py    the named Configs: paper, fast, fast_cosine, small
  commands.py   the settings of the commands that use a trained space
                (generate, interpolate, invert, evaluate)

    from inrv_tf import config as config_lib
    config = config_lib.small().replace(train={'steps': 10})
"""

from inrv_tf.config.commands import EVAL_COUNTS
from inrv_tf.config.commands import EVAL_TABLES
from inrv_tf.config.commands import EvalSettings
from inrv_tf.config.commands import GenerateSettings
from inrv_tf.config.commands import INVERSION_INITS
from inrv_tf.config.commands import INVERSION_MAX_PIXELS
from inrv_tf.config.commands import INVERSION_LOSSES
from inrv_tf.config.commands import INVERSION_TASKS
from inrv_tf.config.commands import InterpolateSettings
from inrv_tf.config.commands import InversionSettings
from inrv_tf.config.commands import MAX_PIXELS
from inrv_tf.config.commands import PixelBudgetError
from inrv_tf.config.commands import SAMPLING_MODES
from inrv_tf.config.commands import budget_message
from inrv_tf.config.commands import check_pixels
from inrv_tf.config.presets import FAST_PIXEL_FRACTION
from inrv_tf.config.presets import PRESETS
from inrv_tf.config.presets import fast
from inrv_tf.config.presets import fast_cosine
from inrv_tf.config.presets import paper
from inrv_tf.config.presets import preset
from inrv_tf.config.presets import small
from inrv_tf.config.training import ADAM_EPSILON
from inrv_tf.config.training import CHUNK_PIXELS
from inrv_tf.config.training import Config
from inrv_tf.config.training import DATASET_DEFAULTS
from inrv_tf.config.training import DataConfig
from inrv_tf.config.training import LOSSES
from inrv_tf.config.training import LR_SCHEDULES
from inrv_tf.config.training import ModelConfig
from inrv_tf.config.training import PRECISIONS
from inrv_tf.config.training import RESUMABLE
from inrv_tf.config.training import TrainConfig
from inrv_tf.config.training import check_video_size
from inrv_tf.config.training import dataset_defaults
from inrv_tf.config.training import resume_changes
from inrv_tf.config.training import validate

__all__ = [
    'EVAL_COUNTS',
    'EVAL_TABLES',
    'EvalSettings',
    'GenerateSettings',
    'INVERSION_INITS',
    'INVERSION_MAX_PIXELS',
    'INVERSION_LOSSES',
    'INVERSION_TASKS',
    'InterpolateSettings',
    'InversionSettings',
    'MAX_PIXELS',
    'PixelBudgetError',
    'SAMPLING_MODES',
    'budget_message',
    'check_pixels',
    'ADAM_EPSILON',
    'CHUNK_PIXELS',
    'Config',
    'DATASET_DEFAULTS',
    'DataConfig',
    'FAST_PIXEL_FRACTION',
    'LOSSES',
    'LR_SCHEDULES',
    'ModelConfig',
    'PRECISIONS',
    'PRESETS',
    'RESUMABLE',
    'TrainConfig',
    'check_video_size',
    'dataset_defaults',
    'fast',
    'fast_cosine',
    'paper',
    'preset',
    'resume_changes',
    'small',
    'validate',
]
