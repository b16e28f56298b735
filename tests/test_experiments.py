"""The experiments run end to end, in reduced size."""
import sys

import pytest

from fastnet import experiments
from fastnet.__main__ import main


@pytest.mark.parametrize("name", ["parity", "zigzag", "depth"])
def test_experiment_runs(name, tmp_path, capsys):
    result = experiments.run(name, quick=True, out_dir=str(tmp_path))
    out = capsys.readouterr().out
    assert len(result["rows"]) >= 3
    assert all(len(row) == len(result["header"]) for row in result["rows"])
    assert result["header"][0] in out
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert result["figures"] == [] and "install matplotlib" in out
    else:
        assert result["figures"] == [str(tmp_path / f"{name}.png")]
        assert (tmp_path / f"{name}.png").stat().st_size > 1000


def test_depth_experiment_rows_are_exact(tmp_path):
    result = experiments.depth(quick=True, out_dir=str(tmp_path), random_nets=3)
    for k, units, saw, two_k, shallow, deep, mean, best in result["rows"]:
        assert units == 2 * k and saw == two_k == 2 ** k
        assert shallow == 2 * k + 1                 # one layer of 2k units on a line
        assert deep == 3 * 2 ** (k - 1)            # floor(2/1)^(k-1) * (1 + 2)
        # on a line, each layer of w units splits every piece at most w times
        assert 1 <= float(mean) <= best <= 3 ** k


def test_experiments_without_matplotlib(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    result = experiments.run("depth", quick=True, out_dir=str(tmp_path))
    assert result["figures"] == []
    assert "install matplotlib" in capsys.readouterr().out
    assert not (tmp_path / "depth.png").exists()


def test_command_line(tmp_path, capsys):
    assert main(["experiment", "depth", "--quick", "--out", str(tmp_path)]) == 0
    assert "sawtooth pieces" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["experiment", "nonsense"])


def test_check_out_dir(tmp_path):
    experiments.check_out_dir(tmp_path)                       # exists
    experiments.check_out_dir(tmp_path / "new" / "deeper")    # made when saving
    assert not (tmp_path / "new").exists()                    # ... not by the check
    (tmp_path / "f").write_text("")
    for bad in (tmp_path / "f", tmp_path / "f" / "sub"):
        with pytest.raises(ValueError, match="is a file, not a folder"):
            experiments.check_out_dir(bad)


def test_run_checks_the_folder_before_the_work(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    ran = []
    monkeypatch.setitem(experiments._PARTS, "depth",
                        (lambda **kw: ran.append(kw), experiments._depth_figure))
    (tmp_path / "f").write_text("")
    with pytest.raises(ValueError, match="cannot save figures"):
        experiments.run("depth", quick=True, out_dir=str(tmp_path / "f"))
    with pytest.raises(ValueError, match="cannot save figures"):
        experiments.depth(quick=True, out_dir=str(tmp_path / "f"))
    assert ran == []


def test_the_table_is_printed_before_the_figure_is_saved(tmp_path, monkeypatch, capsys):
    pytest.importorskip("matplotlib")

    def failing_figure(result):
        raise OSError("disk full")

    table, _ = experiments._PARTS["depth"]
    monkeypatch.setitem(experiments._PARTS, "depth", (table, failing_figure))
    with pytest.raises(OSError, match="disk full"):
        experiments.run("depth", quick=True, out_dir=str(tmp_path))
    assert "sawtooth pieces" in capsys.readouterr().out
