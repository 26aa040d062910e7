"""Every command's --help shows its whole help text: each paragraph of the module's docstring, whole."""
import contextlib
import importlib
import io
import os
import re

import pytest

from conftest import ROOT


def commands():
    """Every `python -m package.module` command of the repository (modules ending in cli.run(main))."""
    found = []
    for package in sorted(os.listdir(ROOT)):
        folder = os.path.join(ROOT, package)
        if not os.path.isfile(os.path.join(folder, "__init__.py")):
            continue
        for name in sorted(os.listdir(folder)):
            if name.endswith(".py"):
                with open(os.path.join(folder, name), encoding="utf-8") as f:
                    if "cli.run(main)" in f.read():
                        found.append(f"{package}.{name[:-3]}")
    return found


def normalised(text):
    return re.sub(r"\s+", " ", text).strip()


def test_commands_are_found():
    assert {"ie_relation.oracle", "ie_event.train", "mrc.predict", "common.convert"} <= set(commands())


@pytest.mark.parametrize("module", commands())
def test_help_shows_every_paragraph_of_the_docstring_whole(module):
    command = importlib.import_module(module)
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as stop:
        command.main(["--help"])
    assert stop.value.code == 0
    shown = normalised(out.getvalue())
    for paragraph in command.__doc__.strip().split("\n\n"):
        assert normalised(paragraph) in shown, paragraph
