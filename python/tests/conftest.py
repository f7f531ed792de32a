import os
import shutil
from pathlib import Path

import numpy as np
import pytest

REPOSITORY = Path(__file__).resolve().parents[2]


@pytest.fixture
def rng():
    return np.random.default_rng(20261130)


def eplb_binary():
    """The `eplb` command-line tool built from this repository (EPLB_BINARY overrides)."""
    for candidate in (os.environ.get("EPLB_BINARY"), REPOSITORY / ".build" / "release" / "eplb",
                      REPOSITORY / ".build" / "debug" / "eplb", shutil.which("eplb")):
        if candidate and Path(candidate).is_file():
            return str(candidate)
    return None
