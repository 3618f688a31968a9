"""culturalpangea's command lines: named user errors become one line and exit 2; a bug keeps its traceback."""

from __future__ import annotations

import pytest

from culturalpangea.data.sources import SourceError
from culturalpangea.errors import EXIT_USER_ERROR, ModelConfigError, UserError, run_reporting_user_errors
from culturalpangea.eval.items import EvalConfigError
from culturalpangea.settings import SettingsError
from shard_contract.manifest import ManifestError


@pytest.mark.parametrize("error", [SettingsError("optim.lrr is not a setting"), SourceError("source 'x': gone"),
                                   ModelConfigError("only CLIP towers"), EvalConfigError("checkpoint=<path>"),
                                   ManifestError("manifest.json: bad"), FileNotFoundError(2, "No such file", "/x")])
def test_user_errors_are_one_line_and_exit_2(error, capsys, monkeypatch):
    monkeypatch.delenv("CULTURALPANGEA_TRACEBACK", raising=False)

    def fail():
        raise error

    assert run_reporting_user_errors(fail) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1


def test_a_bug_and_an_opted_in_traceback_propagate(monkeypatch):
    with pytest.raises(ZeroDivisionError):
        run_reporting_user_errors(lambda: 1 / 0)
    with pytest.raises(ValueError, match="a plain ValueError is a bug"):
        run_reporting_user_errors(lambda: (_ for _ in ()).throw(ValueError("a plain ValueError is a bug")))
    monkeypatch.setenv("CULTURALPANGEA_TRACEBACK", "1")
    with pytest.raises(UserError):
        run_reporting_user_errors(lambda: (_ for _ in ()).throw(UserError("shown with its traceback")))
    assert run_reporting_user_errors(lambda: 7) == 7
