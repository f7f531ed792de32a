import ctypes.util
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

REPOSITORY = Path(__file__).resolve().parents[2]


def _forecast_library_beside_the_plain_one():
    """With EXPERT_PLACEMENT_LIBRARY pointing at a build (the local run of the README:
    `EXPERT_PLACEMENT_LIBRARY=.build-static/release/libExpertPlacementC.so`), the forecasting
    superset built beside it is used too, unless EXPERT_PLACEMENT_FORECAST_LIBRARY says otherwise.
    Set before the package is imported (it loads its library once)."""
    plain = os.environ.get("EXPERT_PLACEMENT_LIBRARY")
    if plain and "EXPERT_PLACEMENT_FORECAST_LIBRARY" not in os.environ:
        sibling = Path(plain).with_name("libExpertPlacementForecastC.so")
        if sibling.is_file():
            os.environ["EXPERT_PLACEMENT_FORECAST_LIBRARY"] = str(sibling)


_forecast_library_beside_the_plain_one()


@pytest.fixture
def rng():
    return np.random.default_rng(20261130)


@pytest.fixture
def forecasting():
    """Skips where LAPACKE is not installed (the forecasting library cannot load there); elsewhere
    the forecasting library must be the one loaded, so a packaging or loading fault fails."""
    import expert_placement as ep

    if ctypes.util.find_library("lapacke") is None:
        pytest.skip("LAPACKE is not installed (apt-get install liblapacke): no forecasting library")
    assert ep.FORECASTING, f"the forecasting library did not load: {ep.FORECASTING_ERROR}"


def eplb_binary():
    """The `eplb` command-line tool built from this repository (EPLB_BINARY overrides)."""
    for candidate in (os.environ.get("EPLB_BINARY"), REPOSITORY / ".build" / "release" / "eplb",
                      REPOSITORY / ".build" / "debug" / "eplb", shutil.which("eplb")):
        if candidate and Path(candidate).is_file():
            return str(candidate)
    return None


def run_c_program(program, headers, tmp_path):
    """Compiles `program` against the headers named (from the installed package, else the
    repository's include folders) and the loaded library, runs it and returns its output lines;
    skips without a C compiler."""
    from expert_placement import _native

    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("no C compiler")
    library = Path(_native.lib._name)
    package = Path(_native.__file__).parent
    if all((package / header).is_file() for header in headers):
        includes = ["-I", str(package)]
    else:
        includes = []
        for target in ("ExpertPlacementC", "ExpertPlacementForecastC"):
            includes += ["-I", str(REPOSITORY / "Sources" / target / "include")]
    source = tmp_path / "main.c"
    source.write_text(program)
    binary = tmp_path / "main"
    subprocess.run([compiler, "-std=c11", "-Wall", "-Werror", *includes, str(source), str(library),
                    f"-Wl,-rpath,{library.parent}", "-o", str(binary)], check=True)
    return subprocess.run([str(binary)], capture_output=True, text=True, check=True).stdout.splitlines()
