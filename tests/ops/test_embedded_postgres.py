"""The embedded PostgreSQL: shared by processes, forgiving of killed ones."""

import json
import os
import subprocess
import sys

from config import embedded_postgres


def test_dead_handles_are_forgotten(tmp_path):
    handles = tmp_path / ".handle_pids.json"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    handles.write_text(json.dumps([os.getpid(), dead.pid]))

    embedded_postgres._prune_dead_handles(tmp_path)

    assert json.loads(handles.read_text()) == [os.getpid()]


def test_missing_handle_file_is_fine(tmp_path):
    embedded_postgres._prune_dead_handles(tmp_path)
    assert not (tmp_path / ".handle_pids.json").exists()


def test_status_command_reports(capsys):
    assert embedded_postgres.main(["x", "status"]) == 0
    assert "embedded PostgreSQL at" in capsys.readouterr().out


def test_unknown_command_is_a_usage_error(capsys):
    assert embedded_postgres.main(["x", "explode"]) == 2
    assert "usage" in capsys.readouterr().out
