"""The packages' import graphs have no cycle, and the commands do not branch per environment.

**The import graph** of a package has one node per module of the package (``pkg/a/b.py`` is
``pkg.a.b``; ``pkg/a/__init__.py`` is ``pkg.a``) and an edge M -> T for every ``import`` or
``from ... import`` statement of M, at module level or inside a function, class or ``if``
(lazy imports count: calling the function runs them), whose target T is a module of the same
package:

- ``import pkg.a.b`` and ``from pkg.a import b``, where ``pkg.a.b`` is a module, point at
  ``pkg.a.b``; ``from pkg.a import name``, where ``name`` is not a submodule, points at
  ``pkg.a`` (the ``__init__`` that defines ``name``); relative imports resolve against M's
  package (M itself for an ``__init__``).
- Importing T also runs the ``__init__`` of every package that contains T, so M also points at
  each of those packages, except M's own package and the packages around it: those are
  already being imported when M runs. So a package's ``__init__`` that imports its own
  submodules, and submodules that import their siblings, make no cycle: that is how Python
  imports a package. But a submodule that imports a name from its package's ``__init__`` while
  that ``__init__`` imports the submodule is one (A -> B -> A), and so is a module outside a
  package that imports any of its modules while the package (however lazily) imports it back.

**A cycle** is a path of such edges from a module back to itself. ``find_cycles`` returns one
per strongly connected component of more than one module.
"""
import ast
from pathlib import Path
from typing import Dict, List, Set

import pytest

from tests.conftest import REPO

PACKAGES = {
    "marlgpt_training": REPO / "training" / "src" / "marlgpt_training",
    "marlgpt_planner": REPO / "ros2_ws" / "src" / "marlgpt_planner" / "marlgpt_planner",
    "marlgpt_sim": REPO / "ros2_ws" / "src" / "marlgpt_sim" / "marlgpt_sim",
}
COMMANDS = PACKAGES["marlgpt_training"] / "commands"


def package_modules(root: Path) -> Dict[str, Path]:
    """Module name -> file, for every module of the package at ``root`` (its name: the
    directory's)."""
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _ancestors(module: str) -> List[str]:
    parts = module.split(".")
    return [".".join(parts[:k]) for k in range(1, len(parts))]


def _targets(node: ast.AST, module: str, is_package: bool, modules: Set[str]) -> List[str]:
    """The package's modules that one import statement of ``module`` names directly."""
    if isinstance(node, ast.Import):
        found = []
        for alias in node.names:
            name = alias.name
            while name and name not in modules:  # import pkg.a.b: the longest known module
                name = name.rpartition(".")[0]
            if name:
                found.append(name)
        return found
    assert isinstance(node, ast.ImportFrom)
    if node.level:
        base = module if is_package else module.rpartition(".")[0]
        for _ in range(node.level - 1):
            base = base.rpartition(".")[0]
        source = f"{base}.{node.module}" if node.module else base
    else:
        source = node.module or ""
    found = []
    for alias in node.names:
        submodule = f"{source}.{alias.name}"
        if submodule in modules:
            found.append(submodule)
        elif source in modules:
            found.append(source)
    return found


def import_graph(root: Path) -> Dict[str, Set[str]]:
    """Module -> the modules of the same package it imports (see the module doc)."""
    modules = package_modules(root)
    names = set(modules)
    graph: Dict[str, Set[str]] = {name: set() for name in modules}
    for module, path in modules.items():
        is_package = path.name == "__init__.py"
        around = set(_ancestors(module)) | ({module} if is_package else set())
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            for target in _targets(node, module, is_package, names):
                implicit = [name for name in _ancestors(target) if name not in around]
                graph[module].update(name for name in [*implicit, target]
                                     if name in names and name != module)
    return graph


def find_cycles(graph: Dict[str, Set[str]]) -> List[List[str]]:
    """One cycle (a list of modules, the first repeated at the end) per strongly connected
    component of ``graph`` with more than one module (Tarjan's algorithm)."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    components: List[List[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_cycle_in(graph, set(component)) for component in components]


def _cycle_in(graph: Dict[str, Set[str]], component: Set[str]) -> List[str]:
    """A shortest path from the component's first module back to itself, inside it."""
    start = min(component)
    parents: Dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in sorted(graph[node] & component):
                if nxt == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(parents[path[-1]])
                    return [*reversed(path), start]
                if nxt not in parents:
                    parents[nxt] = node
                    following.append(nxt)
        frontier = following
    raise AssertionError(f"{sorted(component)} is not strongly connected")


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_no_package_has_an_import_cycle(package: str) -> None:
    graph = import_graph(PACKAGES[package])
    assert len(graph) > 5 and any(graph.values())  # the right directory, imports resolved
    assert find_cycles(graph) == []


def _write(root: Path, files: Dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "pkg"


def test_the_graph_resolves_every_kind_of_import(tmp_path: Path) -> None:
    package = _write(tmp_path, {
        "__init__.py": "from pkg import envs\n",
        "envs/__init__.py": "from pkg.envs import one\nfrom . import two\n",
        "envs/one.py": "from pkg.envs import two\nimport numpy\n",
        "envs/two.py": "from .. import base\nfrom ..data.records import Record\n",
        "base.py": "def f():\n    import pkg.data.records\n",
        "data/__init__.py": "",
        "data/records.py": "from pkg.base import f\n",
        "cmd.py": "if True:\n    from pkg.envs.one import NAME\n",
    })
    assert import_graph(package) == {
        "pkg": {"pkg.envs"},
        "pkg.envs": {"pkg.envs.one", "pkg.envs.two"},
        "pkg.envs.one": {"pkg.envs.two"},
        "pkg.envs.two": {"pkg.base", "pkg.data", "pkg.data.records"},
        "pkg.base": {"pkg.data", "pkg.data.records"},
        "pkg.data": set(),
        "pkg.data.records": {"pkg.base"},
        "pkg.cmd": {"pkg.envs", "pkg.envs.one"},
    }


def test_the_checker_finds_cycles_and_only_cycles(tmp_path: Path) -> None:
    # A package __init__ importing its submodules, which import each other's names one way:
    # no cycle.
    layered = _write(tmp_path / "layered", {
        "__init__.py": "",
        "envs/__init__.py": "from pkg.envs import lbf, pogema\nREGISTRY = [lbf, pogema]\n",
        "envs/pogema.py": "from pkg.envs.common import helper\n",
        "envs/lbf.py": "from . import common\n",
        "envs/common.py": "def helper():\n    pass\n",
        "commands.py": "from pkg import envs\n",
    })
    assert find_cycles(import_graph(layered)) == []
    # A submodule importing a name of its package's __init__, which imports it: a cycle.
    registry = _write(tmp_path / "registry", {
        "__init__.py": "",
        "envs/__init__.py": "from pkg.envs import lbf\nLBF = 'lbf'\n",
        "envs/lbf.py": "from pkg.envs import LBF\n",
    })
    assert find_cycles(import_graph(registry)) == [["pkg.envs", "pkg.envs.lbf", "pkg.envs"]]
    # A lazy import inside a function closes a cycle through three modules.
    lazy = _write(tmp_path / "lazy", {
        "__init__.py": "",
        "a.py": "from pkg import b\n",
        "b.py": "from pkg.c import x\n",
        "c.py": "def x():\n    from pkg.a import y\n",
    })
    assert find_cycles(import_graph(lazy)) == [["pkg.a", "pkg.b", "pkg.c", "pkg.a"]]
    # A module importing a package's submodule runs the package's __init__ too.
    through_init = _write(tmp_path / "through", {
        "__init__.py": "",
        "envs/__init__.py": "from pkg.envs import pogema\n",
        "envs/names.py": "POGEMA = 'pogema-lmapf'\n",
        "envs/pogema.py": "def evaluate():\n    from pkg.policies import model\n",
        "policies/__init__.py": "",
        "policies/model.py": "from pkg.envs.names import POGEMA\n",
    })
    assert find_cycles(import_graph(through_init)) == [
        ["pkg.envs", "pkg.envs.pogema", "pkg.policies.model", "pkg.envs"]]


# --- no per-environment branching in the commands ---------------------------------------------

#: The environments' names, and the names their constants had or have.
ENV_LITERALS = {"pogema-lmapf", "lbf", "grf"}
ENV_CONSTANTS = {"POGEMA", "LBF", "GRF", "ENV_NAME"}


def _names_an_environment(node: ast.AST) -> bool:
    """An environment's name (literal or constant), ``....env``, or a tuple/list/set of them."""
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return any(_names_an_environment(element) for element in node.elts)
    if isinstance(node, ast.Constant):
        return node.value in ENV_LITERALS
    if isinstance(node, ast.Name):
        return node.id in ENV_CONSTANTS
    if isinstance(node, ast.Attribute):
        return node.attr in ENV_CONSTANTS or node.attr == "env"
    return False


def environment_branches(source: str) -> List[int]:
    """Lines of ``source`` that branch on an environment: a comparison (``==``, ``!=``,
    ``in``, ...) with an environment's name, constant or ``args.env``, a dict keyed by
    environment names (a dispatch table), or a ``match`` on one."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            if any(_names_an_environment(o) for o in [node.left, *node.comparators]):
                lines.append(node.lineno)
        elif isinstance(node, ast.Dict):
            if any(key is not None and _names_an_environment(key) for key in node.keys):
                lines.append(node.lineno)
        elif isinstance(node, ast.Match) and _names_an_environment(node.subject):
            lines.append(node.lineno)
    return sorted(lines)


def test_the_commands_do_not_branch_per_environment() -> None:
    files = sorted(COMMANDS.glob("*.py"))
    assert COMMANDS / "eval.py" in files and COMMANDS / "generate.py" in files
    found = {path.name: environment_branches(path.read_text()) for path in files}
    assert {name: lines for name, lines in found.items() if lines} == {}


def test_the_branch_check_finds_branches_and_not_help_texts() -> None:
    branches = [
        "if args.env != environments.POGEMA:\n    pass\n",
        "run = a if args.env == environments.GRF else b\n",
        "if args.env == 'lbf':\n    pass\n",
        "if args.scenarios and args.env not in ('grf',):\n    pass\n",
        "if name == ENV_NAME:\n    pass\n",
        "unit = {ENV_NAME: 'goals/step', environments.GRF: 'win rate'}.get(args.env)\n",
        "match args.env:\n    case 'lbf':\n        pass\n",
    ]
    for source in branches:
        assert environment_branches(source) == [1], source
    innocent = [
        "parser.add_argument('--env', choices=envs.names(), default=envs.POGEMA,\n"
        "                    help='pogema-lmapf: the benchmark; lbf: foraging; grf: football')\n",
        "environment = envs.get(args.env)\nscores = environment.evaluate(args)\n",
        "if args.episodes < 1 or args.policy == 'builtin':\n    pass\n",
        "print(f'{args.env}: {name}')\nsettings = {'seed': args.seed}\n",
    ]
    for source in innocent:
        assert environment_branches(source) == [], source
