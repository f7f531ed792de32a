"""The README's Python example runs as shown."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_python_example_runs(capsys):
    text = README.read_text()
    section = text[text.index("\n## Python\n"):]
    block = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    exec(compile(block, "README.md (## Python)", "exec"), {})
    printed = capsys.readouterr().out.strip()
    assert re.fullmatch(r"\[[\d ]*\] \d+", printed), printed


@pytest.mark.usefixtures("forecasting")
def test_readme_forecasting_example_prints_what_the_readme_shows(capsys):
    text = README.read_text()
    section = text[text.index("\n## Python\n"):]
    # The python block that calls ep.forecast, and the text block after it: what it prints.
    blocks = re.findall(r"```(python|text)\n(.*?)```", section, re.S)
    at = next((i for i, (kind, code) in enumerate(blocks) if kind == "python" and "ep.forecast(" in code), None)
    assert at is not None and at + 1 < len(blocks) and blocks[at + 1][0] == "text", \
        "the README's Python section has no forecasting example followed by its output"
    exec(compile(blocks[at][1], "README.md (## Python, forecasting)", "exec"), {})
    assert capsys.readouterr().out.splitlines() == blocks[at + 1][1].splitlines()
