"""models/ has no import circle, counting imports inside functions: the format modules
(encodec, hf_*) sit below loaders.py, which sits below the generation models."""

import ast
from pathlib import Path

import audiocraft

MODELS = Path(audiocraft.__file__).parent / "models"


def _imports(path: Path) -> set[str]:
    """Sibling modules of models/ that ``path`` imports anywhere in the file."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "audiocraft.models."):
            found.add(node.module.split(".")[2])
    return found


def test_models_has_no_import_circle():
    graph = {p.stem: _imports(p) for p in MODELS.glob("*.py") if p.stem != "__init__"}
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert module not in path, f"import circle: {' -> '.join(path + (module,))}"
        if module in done or module not in graph:
            return
        for imported in graph[module]:
            visit(imported, path + (module,))
        done.add(module)

    for module in graph:
        visit(module, ())


def test_format_modules_do_not_import_the_loaders():
    for name in ("encodec", "hf_encodec", "hf_musicgen", "errors", "builders", "lm"):
        assert "loaders" not in _imports(MODELS / f"{name}.py"), name
