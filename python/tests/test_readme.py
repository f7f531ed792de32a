"""The README's Python example runs as shown."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_python_example_runs(capsys):
    text = README.read_text()
    section = text[text.index("\n## Python\n"):]
    block = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    exec(compile(block, "README.md (## Python)", "exec"), {})
    printed = capsys.readouterr().out.strip()
    assert re.fullmatch(r"\[[\d ]*\] \d+", printed), printed
