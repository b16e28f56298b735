"""The scripts in examples/ run as they are (in reduced size)."""
import ast
import os
import runpy
import sys

import pytest

EXAMPLES = os.path.join(os.path.dirname(__file__), os.pardir, "examples")


def _run(name, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", [name, "--quick"])
    runpy.run_path(os.path.join(EXAMPLES, name), run_name="__main__")


def test_digits_example(monkeypatch, tmp_path, capsys):
    pytest.importorskip("sklearn")
    _run("digits.py", monkeypatch, tmp_path)
    out = capsys.readouterr().out
    assert out.count("test accuracy") == 2


def test_zigzag_example(monkeypatch, tmp_path, capsys):
    _run("zigzag.py", monkeypatch, tmp_path)
    out = capsys.readouterr().out
    assert out.count("linear pieces") == 2
    assert "8 linear pieces (target: 8)" in out          # the deep construction, k = 3
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return
    assert (tmp_path / "zigzag_fit.png").exists()


def test_sweep_on_dask_example(monkeypatch, tmp_path, capsys):
    pytest.importorskip("sklearn")
    pytest.importorskip("distributed")
    _run("sweep_dask.py", monkeypatch, tmp_path)
    out = capsys.readouterr().out
    assert "workers: 2" in out and "2 configurations" in out


@pytest.mark.parametrize("name", sorted(n for n in os.listdir(EXAMPLES) if n.endswith(".py")))
def test_every_example_starts_with_a_title(name):
    with open(os.path.join(EXAMPLES, name)) as f:
        doc = ast.get_docstring(ast.parse(f.read()))
    assert doc, f"{name} has no module docstring"
    title, *rest = doc.splitlines()
    # one line, then a blank line: the title is not the start of a paragraph
    assert title.strip() and len(title) <= 79 and not title.endswith((",", ":"))
    assert rest and rest[0] == "", f"{name}: the first line runs on"
