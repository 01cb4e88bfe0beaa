"""The package's layers, checked from its imports (module-level and inside functions alike):
no import runs upward and none runs in a circle. ``python -m pytest tests/test_layout.py -q``
is the command that shows it; a failure names the offending import."""

import ast
from pathlib import Path

from .conftest import ROOT

# bottom to top; a module may import its own layer and the layers below it
LAYERS = [
    ["errors", "problems", "version"],       # leaves: typed errors and exit statuses, findings, the release
    ["model"],                               # the message, flags, dates, identity
    ["fs"],                                  # durability, staging, locking, ownership, privileges
    ["formats"],                             # readers and writers, detection, side files
    ["validate", "convert"],                 # finding damage; converting one mailbox or a tree
    ["repair", "inspection", "validate_many"],  # built on the two above
    ["migrate"],                             # many conversions
    ["render"],                              # all output: JSON documents, reports' text, tables, bars
    ["cli", "__main__"],                     # the commands
]


def modules() -> dict[str, Path]:
    found = {}
    for path in (ROOT / "mboxtool").rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for candidate in [target] + [f"{target}.{a.name}" for a in node.names]:
                if candidate in known and candidate != name:
                    out.add(candidate)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name in known and a.name != name)
    return out


def layer_of(name: str) -> int:
    top = name.split(".")[1] if "." in name else "__init__"
    for i, layer in enumerate(LAYERS):
        if top in layer:
            return i
    return len(LAYERS)                       # the package itself: its public API, above all


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(name, path, known) for name, path in known.items()}


def test_every_module_has_a_layer():
    assert [n for n in modules() if n != "mboxtool" and layer_of(n) == len(LAYERS)] == []


def test_no_import_runs_upward():
    upward = [f"{src} -> {dst}" for src, deps in graph().items() for dst in deps
              if layer_of(dst) > layer_of(src)]
    assert upward == []


def test_no_import_runs_in_a_circle():
    edges = graph()
    # a package's __init__ re-exports its modules: that edge is not a dependency of theirs
    for name in edges:
        edges[name] = {d for d in edges[name] if not (d.startswith(name + ".") and name in edges)}
    state, cycles = {}, []

    def visit(node, stack):
        state[node] = "open"
        for nxt in sorted(edges[node]):
            if state.get(nxt) == "open":
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"
    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_a_message_goes_from_the_command_to_the_maildir_file_in_at_most_six_hops():
    """The paths a newcomer follows, each hop a direct import: the command line, the convert
    command, the converter, its run loop, the format table, the Maildir writer, the staged
    delivery; and the run loop's hand-over to the writer process."""
    edges = graph()
    command = ["mboxtool.cli", "mboxtool.cli.convert_command"]
    for path in ([*command, "mboxtool.convert.mailbox", "mboxtool.convert.run", "mboxtool.formats.registry",
                  "mboxtool.formats.maildirwriter", "mboxtool.fs.staging"],
                 [*command, "mboxtool.convert.mailbox", "mboxtool.convert.run", "mboxtool.convert.sinks",
                  "mboxtool.convert.forkwriter"]):
        assert all(b in edges[a] for a, b in zip(path, path[1:])), path
        assert len(path) - 1 <= 6
