"""What --help says: every form of the command, and each option in the group it belongs to."""

import re

import pytest

from shapeviewer.cli import main


def help_text(capsys, monkeypatch, *words) -> str:
    monkeypatch.setenv("COLUMNS", "100")
    with pytest.raises(SystemExit) as exit_:
        main([*words, "--help"])
    assert exit_.value.code == 0
    return capsys.readouterr().out


def sections(text: str) -> dict[str, str]:
    """'usage' and each group ('options', 'output'...) of a help text, by title."""
    parts = re.split(r"^(\S[^\n]*):\n", "\n" + text.split("\n\n", 1)[1], flags=re.MULTILINE)
    return {"usage": text.split("\n\n", 1)[0], **dict(zip(parts[1::2], parts[2::2], strict=True))}


def test_the_top_level_help_gives_the_session_form(capsys, monkeypatch):
    usage = sections(help_text(capsys, monkeypatch))["usage"]
    assert usage.startswith("usage: shapeviewer [-h]")
    assert "\n       shapeviewer FILE.svsession" in usage


@pytest.mark.parametrize(
    "command",
    [("register",), ("shoot",), ("batch", "template"), ("batch", "pairwise"), ("batch", "modes")],
    ids=" ".join,
)
def test_out_is_listed_with_the_outputs(capsys, monkeypatch, command):
    groups = sections(help_text(capsys, monkeypatch, *command))
    assert "--out OUT" in groups["output"]
    assert "--out" not in groups["options"]
    assert groups["usage"].startswith(f"usage: shapeviewer {' '.join(command)} ")


def test_batch_modes_groups_its_movie_options_with_the_output(capsys, monkeypatch):
    groups = sections(help_text(capsys, monkeypatch, "batch", "modes"))
    for option in ("--movie", "--size", "--fps"):
        assert option in groups["output"] and option not in groups["options"]


@pytest.mark.parametrize("command", [("register",), ("batch", "template"), ("batch", "pairwise")], ids=" ".join)
def test_the_fitting_options_have_their_own_group(capsys, monkeypatch, command):
    groups = sections(help_text(capsys, monkeypatch, *command))
    fitting = groups["fitting (the loss and when to stop)"]
    for option in ("--fidelity ", "--regularization", "--iterations", "--levels", "--tolerance"):
        assert option in fitting and option not in groups["options"]
    if command == ("register",):
        assert groups["options"].split() == ["-h,", "--help", "show", "this", "help", "message", "and", "exit"]
