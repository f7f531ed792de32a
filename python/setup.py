"""Builds the library's two C API shared libraries and puts them inside the package.

`pip install ./python` (from a clone of the repository) runs, in the repository root,
`swift build -c release --product ExpertPlacementC -Xswiftc -static-stdlib` (the plain C API,
`expert_placement.h`) and the same for `ExpertPlacementForecastC` (a superset adding forecasting,
`expert_placement_forecast.h`; it links LAPACKE, so building it needs liblapacke-dev and running
it liblapacke). Both share one scratch path, so the second build reuses the first. The shared
libraries carry the Swift runtime, so the installed package needs no Swift toolchain at run time
(only libc, libm, libstdc++, libgcc_s, and LAPACKE for the superset). (`--static-swift-stdlib`
links the runtime statically into executables only; `-Xswiftc -static-stdlib` does it for these
shared libraries too.) At run time the package loads the superset, or the plain library where the
superset does not load.

When the superset does not build and LAPACKE is not installed (`pkg-config --exists lapacke`
fails), only the plain library is packaged, with a warning; with LAPACKE installed a failed build
is an error. Set EXPERT_PLACEMENT_PREBUILT (and EXPERT_PLACEMENT_FORECAST_PREBUILT) to built
libraries to package those files instead of building, and SWIFT to the `swift` executable when it
is not on PATH (/opt/swift/usr/bin/swift is tried too).
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Optional

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = Path(__file__).resolve().parent
REPOSITORY = HERE.parent
LIBRARY = "libExpertPlacementC.so"
FORECAST_LIBRARY = "libExpertPlacementForecastC.so"
HEADERS = [
    REPOSITORY / "Sources" / "ExpertPlacementC" / "include" / "expert_placement.h",
    REPOSITORY / "Sources" / "ExpertPlacementForecastC" / "include" / "expert_placement_forecast.h",
]
SCRATCH = REPOSITORY / ".build-python"


def swift_executable() -> str:
    for candidate in (os.environ.get("SWIFT"), shutil.which("swift"), "/opt/swift/usr/bin/swift"):
        if candidate and Path(candidate).exists():
            return candidate
    raise RuntimeError(
        "building expert-placement needs the Swift toolchain (6.1 or later) to compile "
        "libExpertPlacementC: put `swift` on PATH, set SWIFT=/path/to/swift, or set "
        "EXPERT_PLACEMENT_PREBUILT=/path/to/libExpertPlacementC.so"
    )


def prebuilt(variable: str) -> Optional[Path]:
    value = os.environ.get(variable)
    if not value:
        return None
    path = Path(value)
    if not path.is_file():
        raise RuntimeError(f"{variable}={value}: no such file")
    return path


def swift_build(product: str, check: bool = True) -> bool:
    if not (REPOSITORY / "Package.swift").is_file():
        raise RuntimeError(f"{REPOSITORY} is not an ExpertPlacement clone (no Package.swift): cannot build the library")
    command = [
        swift_executable(), "build", "-c", "release", "--product", product,
        "-Xswiftc", "-static-stdlib", "--scratch-path", str(SCRATCH),
    ]
    print("building the library:", " ".join(command), flush=True)
    return subprocess.run(command, cwd=REPOSITORY, check=check).returncode == 0


def lapacke_installed() -> bool:
    pkg_config = shutil.which("pkg-config")
    if pkg_config is None:
        return False
    return subprocess.run([pkg_config, "--exists", "lapacke"]).returncode == 0


def build_library() -> Path:
    """The plain library (`EXPERT_PLACEMENT_PREBUILT`, or built)."""
    path = prebuilt("EXPERT_PLACEMENT_PREBUILT")
    if path is not None:
        return path
    swift_build("ExpertPlacementC")
    return SCRATCH / "release" / LIBRARY


def build_forecast_library() -> Optional[Path]:
    """The superset (`EXPERT_PLACEMENT_FORECAST_PREBUILT`, or built), or None when it cannot be built
    because LAPACKE is missing."""
    path = prebuilt("EXPERT_PLACEMENT_FORECAST_PREBUILT")
    if path is not None:
        return path
    if os.environ.get("EXPERT_PLACEMENT_PREBUILT"):
        return None  # a prebuilt plain library alone: nothing is compiled
    if swift_build("ExpertPlacementForecastC", check=False):
        return SCRATCH / "release" / FORECAST_LIBRARY
    if lapacke_installed():
        raise RuntimeError(f"building {FORECAST_LIBRARY} failed (see the compiler's output above)")
    print(f"warning: {FORECAST_LIBRARY} was not built: LAPACKE is not installed (apt-get install liblapacke-dev). "
          "The package gets the plain library only: forecast() and rebalance(strategy=...) will say so.",
          file=sys.stderr, flush=True)
    return None


class BuildWithLibrary(build_py):
    def run(self):
        super().run()
        target = Path(self.build_lib) / "expert_placement"
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(build_library(), target / LIBRARY)
        forecast = build_forecast_library()
        if forecast is not None:
            shutil.copyfile(forecast, target / FORECAST_LIBRARY)
        for header in HEADERS:
            if header.is_file():
                shutil.copyfile(header, target / header.name)


class BinaryDistribution(Distribution):
    """The wheel holds a native library: mark it platform-specific."""

    def has_ext_modules(self):
        return True


setup(cmdclass={"build_py": BuildWithLibrary}, distclass=BinaryDistribution)
