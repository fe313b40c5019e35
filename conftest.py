"""pytest settings for the whole repository (tests/ and datasets/).

tf.test.TestCase, the base of tfds.testing.DatasetBuilderTestCase, has a method
named `test_session` (TF1's deprecated session context manager). pytest collects
it as a test of every dataset builder test class, and it only ever skips with
"Not a test." (one `SKIPPED` line per class under `-ra`). Those items are
deselected here; every other test is collected as before.
"""


def _is_tf_test_session(item) -> bool:
  cls = getattr(item, 'cls', None)
  if item.name != 'test_session' or cls is None:
    return False
  return any(f'{base.__module__}.{base.__qualname__}' ==
             'tensorflow.python.framework.test_util.TensorFlowTestCase' for base in cls.__mro__)


def pytest_collection_modifyitems(config, items):
  dropped = [item for item in items if _is_tf_test_session(item)]
  if dropped:
    items[:] = [item for item in items if item not in dropped]
    config.hook.pytest_deselected(items=dropped)
