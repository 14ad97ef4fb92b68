"""The README documents every command and option the `wegweiser` command has."""
import click
import pytest

from tests.conftest import REPO
from wegweiser.cli import main

README = (REPO / "README.md").read_text(encoding="utf-8")
COMMANDS = sorted(main.commands.items())


@pytest.mark.parametrize("name, command", COMMANDS, ids=[name for name, _ in COMMANDS])
def test_command_and_its_options_are_in_the_readme(name: str, command: click.Command):
    assert f"wegweiser {name}" in README
    for param in command.params:
        if isinstance(param, click.Option):
            assert any(f"`{opt}" in README for opt in param.opts), f"{name} {param.opts} is not documented"


def test_readme_names_the_command_ci_runs():
    ci_lines = [line for line in (REPO / ".ci" / "run").read_text().splitlines() if line and not line.startswith(("#", "set ", "cd "))]
    assert ci_lines[-1] in README


def test_every_setting_is_in_the_readme():
    from wegweiser.settings import SETTINGS
    for setting in SETTINGS.values():
        assert f"`{setting.environment}`" in README, setting.environment
