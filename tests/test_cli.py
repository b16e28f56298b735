"""The ``fastnet`` command: its help, its version, and a usage error (exit status 2,
no traceback) for every mistake in its arguments, found before any work starts."""
import os
import subprocess
import sys

import pytest

import fastnet
from fastnet import bench, experiments
from fastnet.__main__ import main
from fastnet.bench.configs import CONFIGS
from fastnet.bench.sklearn_compare import DATASETS


def _fastnet(tmp_path, *args):
    """Run ``python -m fastnet ARGS`` in tmp_path, on the fastnet under test."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(fastnet.__file__)))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "fastnet", *args], capture_output=True,
                          text=True, timeout=300, env=env, cwd=tmp_path)


class _Started(Exception):
    """Raised by the stand-ins for the long runs: the work would have started."""


@pytest.fixture
def no_work(monkeypatch):
    """Replace every long run by one that records its arguments and stops."""
    calls = []

    def started(name):
        def run(*args, **kwargs):
            calls.append((name, args, kwargs))
            raise _Started(name)
        return run

    monkeypatch.setattr(bench, "run", started("bench"))
    monkeypatch.setattr(bench, "compare_sklearn", started("sklearn"))
    monkeypatch.setattr(experiments, "_PARTS",
                        {name: (started(name), figure)
                         for name, (_, figure) in experiments._PARTS.items()})
    return calls


def test_help_shows_the_command_name_in_plain_text(tmp_path):
    proc = _fastnet(tmp_path, "--help")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: fastnet ")
    assert "python -m" not in proc.stdout
    for markup in ("``", ":func:", ":data:", ":mod:"):      # no raw reStructuredText
        assert markup not in proc.stdout
    for command in ("demo", "bench", "experiment"):
        assert command in proc.stdout


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"fastnet {fastnet.__version__}"


def test_bench_help_lists_the_configurations(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["bench", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for c in CONFIGS.values():
        assert f"  {c.name}  {c.title}" in out
    for name in DATASETS:
        assert name in out


def _usage_error(capsys, argv):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize("argv,message", [
    (["bench", "--only", "Z"], "argument --only: unknown configuration 'Z'"),
    (["bench", "--only", "A,,B"], "argument --only: unknown configuration ''"),
    (["bench", "--sklearn", "--only", "mnist"], "argument --only: unknown data set 'mnist'"),
    (["bench", "--blas-threads", "2"], "argument --blas-threads: only with --sklearn"),
    (["bench", "--sklearn", "--blas-threads", "0"], "argument --blas-threads: must be at least 1"),
])
def test_bench_argument_mistakes_are_usage_errors(argv, message, capsys, no_work):
    err = _usage_error(capsys, argv)
    assert f"fastnet bench: error: {message}" in err
    assert no_work == []


def test_json_path_is_checked_before_the_benchmark(tmp_path, capsys, no_work):
    missing = tmp_path / "no such folder" / "results.json"
    err = _usage_error(capsys, ["bench", "--only", "A", "--json", str(missing)])
    assert "argument --json: no folder" in err
    err = _usage_error(capsys, ["bench", "--sklearn", "--json", str(tmp_path)])
    assert "argument --json:" in err and "is a folder" in err
    assert no_work == []
    assert not missing.parent.exists()


def test_out_folder_is_checked_before_the_experiment(tmp_path, capsys, no_work):
    pytest.importorskip("matplotlib")            # without it nothing is written
    a_file = tmp_path / "a file"
    a_file.write_text("")
    err = _usage_error(capsys, ["experiment", "depth", "--quick",
                                "--out", str(a_file / "figures")])
    assert "fastnet experiment: error: argument --out:" in err and "not a folder" in err
    assert no_work == []


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="needs file permissions that apply (not root)")
def test_unwritable_out_folder(tmp_path, capsys, no_work):
    pytest.importorskip("matplotlib")
    folder = tmp_path / "read only"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        err = _usage_error(capsys, ["experiment", "parity", "--out", str(folder)])
        assert "argument --out:" in err
        err = _usage_error(capsys, ["bench", "--json", str(folder / "r.json")])
        assert "argument --json: cannot write" in err
    finally:
        folder.chmod(0o700)
    assert no_work == []


def test_good_arguments_reach_the_work(tmp_path, no_work):
    with pytest.raises(_Started):
        main(["bench", "--only", "a,e,A", "--json", str(tmp_path / "r.json")])
    with pytest.raises(_Started):
        main(["bench", "--sklearn", "--only", "Iris", "--blas-threads", "1"])
    with pytest.raises(_Started):
        main(["experiment", "zigzag", "--out", str(tmp_path / "new" / "figures")])
    (_, args, _), (_, sk_args, sk_kwargs), (name, _, _) = no_work
    assert args[0] == ["A", "E"]                 # upper case, each once, in order
    assert sk_args[0] == ["iris"] and sk_kwargs["blas_threads"] == 1
    assert name == "zigzag"
    assert not (tmp_path / "r.json").exists()


def test_a_mistake_gives_no_traceback_from_the_command(tmp_path):
    proc = _fastnet(tmp_path, "bench", "--only", "Z")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "fastnet bench: error: argument --only: unknown configuration 'Z'" in proc.stderr
