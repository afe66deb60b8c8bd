"""The layers of micktrace import only downward: no import cycle among its modules,
counting imports inside functions (only ``if TYPE_CHECKING:`` blocks are left out),
and no module over 500 lines."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, List, Optional, Set

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "micktrace"
MAX_LINES = 500


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(path: Path, modules: Set[str]) -> Set[str]:
    """The micktrace modules *path* imports at run time, anywhere in the file."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    tree = ast.parse(path.read_text(), str(path))
    found: Set[str] = set()

    def resolve(target: str) -> Optional[str]:
        while target and target not in modules:
            if "." not in target:
                return None
            target = target.rsplit(".", 1)[0]
        return target or None

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for sub in child.orelse:
                    visit(sub)
                continue
            if isinstance(child, ast.Import):
                for alias in child.names:
                    hit = resolve(alias.name)
                    if hit:
                        found.add(hit)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")
                    base = base[: len(base) - (child.level - 1)]
                    source = ".".join(base + ([child.module] if child.module else []))
                else:
                    source = child.module or ""
                for alias in child.names:
                    hit = resolve(f"{source}.{alias.name}") if f"{source}.{alias.name}" in modules else resolve(source)
                    if hit:
                        found.add(hit)
            visit(child)

    visit(tree)
    found.discard(name)
    return found


def import_graph() -> Dict[str, Set[str]]:
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    # compiled extensions (described by their .pyi stubs) are leaves
    modules = set(files) | {_module_name(p) for p in PACKAGE.rglob("*.pyi")}
    return {name: _imports(path, modules) for name, path in files.items()}


def find_cycles(graph: Dict[str, Set[str]]) -> List[List[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    out: List[List[str]] = []
    counter = [0]

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return out


def test_no_import_cycles() -> None:
    cycles = find_cycles(import_graph())
    assert cycles == [], "import cycles among micktrace's modules:\n" + "\n".join(" <-> ".join(c) for c in cycles)


#: the layers, bottom first: a module imports only from its own layer or those
#: below (docs/design.md draws them). A module not named falls under its package.
LAYERS = (
    ("base", ("_state", "_report", "_signals", "errors", "levels", "serialize", "context", "_native", "_speedups",
              "_exceptions", "filters", "environment")),
    ("record", ("record", "pipeline", "trace_ids")),
    ("masking", ("masking",)),
    ("formatters", ("formatters",)),
    ("handlers", ("handlers",)),
    ("dispatch", ("dispatch", "stdlib_capture", "uncaught")),
    ("config", ("config",)),
    ("front", ("logger", "monitoring")),
    ("top", ("", "conformance", "testing", "types", "integrations", "cli", "__main__", "viewer")),
)
#: upward imports allowed, with the reason
ALLOWED_UP = {
    # LogRecord.to_json()/to_logfmt() are the spec's convenience views: imported when called
    ("micktrace.record", "micktrace.formatters.json"),
    ("micktrace.record", "micktrace.formatters.logfmt"),
}


def _rank(module: str) -> int:
    rel = module[len("micktrace."):] if module.startswith("micktrace.") else ""
    best, best_len = len(LAYERS) - 1, -1
    for rank, (_name, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            hit = rel == prefix or (prefix and rel.startswith(prefix + "."))
            if hit and len(prefix) > best_len:
                best, best_len = rank, len(prefix)
    return best


def test_imports_only_go_down_the_layers() -> None:
    upward = sorted(
        f"{source} ({LAYERS[_rank(source)][0]}) imports {target} ({LAYERS[_rank(target)][0]})"
        for source, targets in import_graph().items()
        for target in targets
        if _rank(target) > _rank(source) and (source, target) not in ALLOWED_UP
    )
    assert upward == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_over_500_lines() -> None:
    long = {
        str(p.relative_to(PACKAGE)): n
        for p in sorted(PACKAGE.rglob("*.py"))
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


def test_every_module_says_what_it_holds() -> None:
    files = sorted(PACKAGE.rglob("*.py"))
    missing = [str(p.relative_to(PACKAGE)) for p in files if not ast.get_docstring(ast.parse(p.read_text()))]
    assert missing == []
