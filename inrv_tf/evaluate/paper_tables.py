"""The paper's tables by name: compute one over a trained workdir, write it, print it.

    table = evaluate('/tmp/balls', 'reconstruction', config_lib.EvalSettings(num_videos=8))

    reconstruction  Table 1  reconstruction_table.py
    fvd, multires   Tables 2 and 4  fvd_tables.py
    superres        Table 5  superres_table.py
    inversion       Table 6  inversion_table.py

The JSON (default <workdir>/eval_<table>.json) holds {table, paper_table,
title, settings (the video ids, sizes, workdir, checkpoint and every option),
columns [{key, header}], rows [{column key: value or null, ...}]}.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

from inrv_tf import config as config_lib
from inrv_tf import files
from inrv_tf import workdir as workdir_lib
from inrv_tf.data import pipeline
from inrv_tf.denoiser import denoising
from inrv_tf.evaluate import fvd
from inrv_tf.evaluate import fvd_tables
from inrv_tf.evaluate import inversion_table
from inrv_tf.evaluate import reconstruction_table
from inrv_tf.evaluate import superres_table
from inrv_tf.evaluate import table as table_lib


def evaluate(workdir, table: str,
             settings: config_lib.EvalSettings = config_lib.EvalSettings(), out=None,
             log: Callable[[str], None] = print,
             identity: inversion_table.IdentityScorer | None = None) -> table_lib.Table:
  """Computes one table over a trained workdir, writes its JSON and prints it.

  Args:
    identity: Table 6's face-identity scorer (GT-ID, TL-ID, TG-ID), if any.
  Raises:
    ValueError (and its kinds: an unknown table, a request over the pixel budget,
    an unwritable `out`, a missing I3D, denoiser or checkpoint, data that cannot
    give the sizes): before any table work starts where it can be known.
  """
  workdir = workdir_lib.Workdir(workdir)
  out = workdir.check_evaluation(table, settings, out)   # Table, pixel budget, --out.
  network = None
  if table in ('fvd', 'multires'):          # Fails fast (with how to get I3D) if absent.
    network = fvd.load_feature_network(settings.i3d)
  denoise = denoising.load_denoiser(workdir) if settings.denoise else None
  config, model = workdir.load_model()
  if settings.fvd_cache is None:
    settings = dataclasses.replace(settings, fvd_cache=str(workdir.fvd_cache))
  builder = pipeline.get_builder(config.data.dataset, settings.data_dir or config.data.data_dir)
  if table == 'reconstruction':
    result = reconstruction_table.reconstruction_table(config, model, builder, settings, log)
  elif table in ('fvd', 'multires'):
    sizes = list(settings.sizes) if table == 'multires' else None
    result = fvd_tables.fvd_table(config, model, builder, network, settings, log, sizes,
                                  denoise)
  elif table == 'superres':
    result = superres_table.superres_table(config, model, builder, settings, log)
  else:
    result = inversion_table.inversion_table(config, model, builder, settings, log, identity)
  result.settings.update(workdir=str(workdir), dataset=config.data.dataset,
                         checkpoint=workdir.latest_checkpoint(),
                         seed=settings.seed, options=dataclasses.asdict(settings))
  files.write_json(out, result.to_dict())
  log(result.format())
  log(f'Wrote {out}.')
  return result
