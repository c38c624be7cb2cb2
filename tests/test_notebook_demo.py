"""notebooks/demo.ipynb runs top to bottom on its default, the shipped toy model (a real
kernel, nbclient)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "demo.ipynb"


@pytest.mark.slow
def test_demo_notebook_executes(tmp_path):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not cell.get("outputs") for cell in nb.cells if cell.cell_type == "code"), \
        "commit the notebook without outputs"
    client = NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    text = "\n".join(out.get("text", "") for cell in nb.cells if cell.cell_type == "code"
                     for out in cell.outputs)
    assert "toy: 8000 Hz" in text and "window 6.0 s" in text
    assert "interrupted: False" in text
    assert "stopped early: True" in text
    assert (tmp_path / "demo_notebook_out" / "long.wav").exists()
    assert (tmp_path / "demo_notebook_out" / "long.wav.json").exists()
    assert (tmp_path / "demo_notebook_out" / "streamed.wav").exists()
