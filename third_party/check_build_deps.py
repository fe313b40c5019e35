"""Checks that the BUILD files' Python deps are the import statements, no more, no less.

    python third_party/check_build_deps.py            # exit 1 and one line per problem
    python third_party/check_build_deps.py --imports  # print each file's first-party imports

Bazel only puts a target's transitive deps into its runfiles, so a missing dep breaks
`bazel test` / `bazel run`, and an extra one makes `bazel query 'deps(//:train)'` lie.
This reads the BUILD files (as Python: they use only calls, lists, strings and list
comprehensions) and the sources (with `ast`, imports inside functions included), then:

- every first-party module a py_* target's srcs import must be a direct dep, owned by a
  py_library, and every direct dep must be imported (package `__init__.py` targets and
  `data` are free: `data` is for what runs in a subprocess or is read as a file;
  libraries without srcs, like the areas in //:BUILD, only gather others);
- every module under inrv_tf/ (its subpackages included) and export/ belongs to a py_library, every command line
  (`if __name__ == '__main__'`) is a py_binary's dep, and every test file is a py_test
  that runs it (`args`).

Standard library only: it runs before anything is installed.
"""

import ast
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
IMPORT_ROOTS = ('', 'datasets')  # sys.path entries: the workspace, and datasets/ (conftest)
LIBRARY_DIRS = ('inrv_tf', 'export')  # every .py below these belongs to a py_library
TEST_GLOBS = ('tests/*_test.py', 'datasets/*/*_test.py')
PY_RULES = ('py_library', 'py_binary', 'py_test')


class Target:

  def __init__(self, package, kind, name, srcs=(), deps=(), data=(), args=(), **_):
    self.package, self.kind, self.name = package, kind, name
    self.label = f'//{package}:{name}'
    self.srcs = [_path(package, s) for s in srcs]
    self.deps = [_label(package, d) for d in deps]
    self.data = [_label(package, d) for d in data]
    # `$(rootpath x_test.py)` names a source of this package.
    self.args = [_path(package, a[len('$(rootpath '):-1]) if a.startswith('$(rootpath ')
                 else a for a in args]


def _label(package, text):
  if text.startswith(':'):
    return f'//{package}{text}'
  if text.startswith('//') and ':' not in text:
    return f'{text}:{text.rsplit("/", 1)[-1]}'
  return text if text.startswith('//') else f'//{package}:{text}'


def _path(package, src):
  """A source label as a workspace path (generated files keep their package path)."""
  if src.startswith('//'):
    package, src = src[2:].split(':')
  return str(pathlib.PurePosixPath(package, src))


def packages():
  """The workspace's Bazel packages: every folder with a BUILD file (third_party's own
  stand-in repositories and Bazel's output links aside)."""
  found = []
  for build in sorted(ROOT.glob('**/BUILD')):
    package = build.parent.relative_to(ROOT).as_posix()
    if not package.startswith(('third_party', 'bazel-')):
      found.append('' if package == '.' else package)
  return found


def load_targets():
  """Runs each BUILD file with stand-ins for the rules it uses; returns {label: Target}."""
  targets = {}
  for package in packages():
    build = ROOT / package / 'BUILD'

    def rule(kind, package=package):
      def record(name, **attrs):
        targets[f'//{package}:{name}'] = Target(package, kind, name, **attrs)
      return record

    def glob(include, exclude=(), package=package):
      base = ROOT / package
      found = {str(p.relative_to(base)) for pattern in include for p in base.glob(pattern)
               if p.is_file()}
      found -= {str(p.relative_to(base)) for pattern in exclude for p in base.glob(pattern)}
      return sorted(found)

    scope = {kind: rule(kind) for kind in PY_RULES}
    scope.update({kind: rule(kind) for kind in ('filegroup', 'genrule', 'alias')})
    scope.update(glob=glob, exports_files=lambda *a, **k: None,
                 package=lambda **k: None)
    exec(compile(build.read_text(), str(build), 'exec'), scope)  # pylint: disable=exec-used
  return targets


def module_file(name):
  """The workspace path of a first-party module or package, or None (third party)."""
  for root in IMPORT_ROOTS:
    base = ROOT / root / pathlib.Path(*name.split('.'))
    for path in (base.with_suffix('.py'), base / '__init__.py'):
      if path.is_file():
        return str(path.relative_to(ROOT))
  return None


def _package_of(path):
  """The dotted package that holds a workspace path, for relative imports."""
  parts = pathlib.PurePosixPath(path).parent.parts
  if parts and parts[0] == 'datasets':
    parts = parts[1:]
  return list(parts)


def imported_files(path):
  """First-party files that `path` imports, package `__init__.py` files included."""
  tree = ast.parse((ROOT / path).read_text(), path)
  names = []
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      names += [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom):
      base = node.module.split('.') if node.module else []
      if node.level:
        base = _package_of(path)[:len(_package_of(path)) - node.level + 1] + base
      module = '.'.join(base)
      names.append(module)
      names += [f'{module}.{alias.name}' for alias in node.names]
  files = set()
  for name in names:
    parts = name.split('.')
    for i in range(1, len(parts) + 1):  # Importing a.b.c runs a/__init__ and a/b/__init__.
      found = module_file('.'.join(parts[:i]))
      if found:
        files.add(found)
  files.discard(path)
  return files


def check(targets):
  problems = []
  py = {label: t for label, t in targets.items() if t.kind in PY_RULES}
  owner = {}
  for label, t in py.items():
    if t.kind == 'py_library':
      for src in t.srcs:
        owner.setdefault(src, []).append(label)
  for src, labels in owner.items():
    if len(labels) > 1 and not src.endswith('__init__.py'):
      problems.append(f'{src} is in several py_library targets: {", ".join(labels)}')

  def closure(label, seen=None):
    seen = set() if seen is None else seen
    for dep in py[label].deps if label in py else ():
      if dep not in seen:
        seen.add(dep)
        closure(dep, seen)
    return seen

  for label, t in sorted(py.items()):
    for dep in t.deps:
      if dep not in py:
        problems.append(f'{label}: dep {dep} is not a py_* target')
    wanted, inits = set(), set()
    for src in t.srcs:
      if not (ROOT / src).is_file():
        continue  # A generated launcher (see BUILD); its module is a dep, checked below.
      for found in imported_files(src):
        if found in t.srcs:
          continue
        if found not in owner:
          problems.append(f'{label}: {src} imports {found}, which no py_library holds')
        elif found.endswith('__init__.py'):
          inits.add(found)
        else:
          wanted.add(owner[found][0])
    init_targets = {o for f in inits for o in owner.get(f, ())}
    for dep in sorted(wanted - set(t.deps)):
      problems.append(f'{label}: missing dep {dep} (imported)')
    extra = set(t.deps) - wanted - init_targets
    # A binary's one dep is its command-line module; a library without srcs (an area,
    # //datasets) only gathers others.
    if t.kind != 'py_binary' and t.srcs:
      extra -= {d for d in extra if py.get(d) and _is_init_target(py[d])}
      for dep in sorted(extra):
        problems.append(f'{label}: dep {dep} is not imported (use data= for subprocesses)')
    reach = closure(label) | {label}
    for init in sorted(inits):
      if not any(o in reach for o in owner.get(init, ())) and init not in t.srcs:
        problems.append(f'{label}: {init} is imported but not in its deps\' closure')

  for directory in LIBRARY_DIRS:
    for path in sorted((ROOT / directory).glob('**/*.py')):
      src = str(path.relative_to(ROOT))
      if src not in owner:
        problems.append(f'{src}: no py_library holds it')
      elif _is_command_line(path):
        binaries = [b for b in py.values() if b.kind == 'py_binary' and owner[src][0] in b.deps]
        if not binaries:
          problems.append(f'{src}: a command line without a py_binary')
  tests = {tuple(t.args): t for t in py.values() if t.kind == 'py_test'}
  for pattern in TEST_GLOBS:
    for path in sorted(ROOT.glob(pattern)):
      src = str(path.relative_to(ROOT))
      t = tests.get((src,))
      if t is None:
        problems.append(f'{src}: no py_test runs it (args = ["{src}"])')
      elif src not in t.srcs:
        problems.append(f'{t.label} runs {src} but does not list it in srcs')
  return problems


def _is_command_line(path):
  """Whether a module runs as a program: a top-level `if __name__ == '__main__':`."""
  for node in ast.parse(path.read_text(), str(path)).body:
    test = getattr(node, 'test', None) if isinstance(node, ast.If) else None
    if (isinstance(test, ast.Compare) and isinstance(test.left, ast.Name)
        and test.left.id == '__name__'):
      return True
  return False


def _is_init_target(target):
  return all(s.endswith('__init__.py') for s in target.srcs) and target.srcs


def main(argv):
  if '--imports' in argv:
    for pattern in ('inrv_tf/**/*.py', 'export/*.py', 'tests/*.py', 'datasets/*/*.py'):
      for path in sorted(ROOT.glob(pattern)):
        src = str(path.relative_to(ROOT))
        found = sorted(f for f in imported_files(src) if not f.endswith('__init__.py'))
        print(src, ' '.join(found))
    return 0
  problems = check(load_targets())
  for problem in problems:
    print(problem)
  print(f'check_build_deps: {len(problems)} problem(s)', file=sys.stderr)
  return 1 if problems else 0


if __name__ == '__main__':
  sys.exit(main(sys.argv[1:]))
