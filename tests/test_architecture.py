"""The floor plan holds: no import cycle between modules (function-level imports included) and no
import from a lower layer to a higher one (``ARCHITECTURE.md``)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "hepdl"

#: Layers, lowest first: a module may import its own layer and those below it.
LAYERS = [
    {"errors", "_util", "schema", "config", "registry", "kinematics"},
    {"metrics"},
    {"sim"},
    {"data"},
    {"features"},
    {"models"},
    {"train"},
    {"deploy", "spark"},
    {"report"},
    {"explain"},
    {"tasks"},
    {"cli", "__main__"},
]


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every hepdl module imported anywhere in ``path`` (top level and inside functions)."""
    tree = ast.parse(path.read_text())
    me = _module_name(path)
    pkg = me if path.name == "__init__.py" else me.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("hepdl")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.startswith("hepdl"):
                found.add(mod)
                found |= {f"{mod}.{a.name}" for a in node.names}
    return found


def _graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in SRC.rglob("*.py")}
    return {m: {i for i in _imports(p) if i in files and i != m} for m, p in files.items()}


def _layer(module: str) -> int:
    parts = module.split(".")
    if len(parts) == 1:  # the package root holds only __version__
        return 0
    top = parts[1]
    for i, layer in enumerate(LAYERS):
        if top in layer:
            return i
    return len(LAYERS)  # the package root: may import anything


def test_no_import_from_a_lower_layer_to_a_higher_one():
    bad = sorted(f"{m} -> {i}" for m, deps in _graph().items() for i in deps if _layer(i) > _layer(m))
    assert not bad, "upward imports:\n" + "\n".join(bad)


def test_no_import_cycles():
    graph = _graph()
    # strongly connected components (Tarjan), ignoring a package's import of its own submodules
    # (an __init__ re-exporting them) and a submodule's import of its package's names
    def edges(m: str) -> set[str]:
        return {i for i in graph[m] if not i.startswith(m + ".") and not m.startswith(i + ".")}

    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges(v):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    import sys

    sys.setrecursionlimit(10000)
    for v in graph:
        if v not in index:
            visit(v)
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


@pytest.mark.parametrize("word", ["events", "higgs", "require_weights", "DER_", "PRI_", "JetDataset", "EventDataset"])
def test_the_trainer_knows_no_domain(word):
    hits = [f"{p.name}:{i + 1}" for p in (SRC / "train").glob("*.py")
            for i, line in enumerate(p.read_text().splitlines())
            if word in line and not line.lstrip().startswith("#")]
    assert not hits, f"{word!r} in train/: {hits}"


def test_kinematics_agree_with_vector():
    """hepdl's one kinematics module against scikit-hep/vector on random momenta."""
    import numpy as np
    import vector

    from hepdl.kinematics import delta_phi, delta_r, pt_eta_phi

    rng = np.random.default_rng(3)
    px, py, pz = rng.normal(0, 50, (3, 1000))
    v = vector.array({"px": px, "py": py, "pz": pz})
    pt, eta, phi = pt_eta_phi(px, py, pz)
    np.testing.assert_allclose(pt, v.pt, rtol=1e-12)
    np.testing.assert_allclose(eta, v.eta, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(phi, v.phi, rtol=1e-12)
    w = vector.array({"px": py, "py": pz, "pz": px})
    np.testing.assert_allclose(delta_phi(phi, w.phi), v.deltaphi(w), atol=1e-12)
    np.testing.assert_allclose(delta_r(eta, phi, w.eta, w.phi), v.deltaR(w), atol=1e-9)
