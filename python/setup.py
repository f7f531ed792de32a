"""Builds libExpertPlacementC (the Swift library's C API) and puts it inside the package.

`pip install ./python` (from a clone of the repository) runs
`swift build -c release --product ExpertPlacementC -Xswiftc -static-stdlib` in the repository
root, so the shared library carries the Swift runtime and the installed package needs no Swift
toolchain at run time (only libc, libm, libstdc++ and libgcc_s). (`--static-swift-stdlib` links
the runtime statically into executables only; `-Xswiftc -static-stdlib` does it for this shared
library too.) Set EXPERT_PLACEMENT_PREBUILT to a built
libExpertPlacementC.so to package that file instead of building, and SWIFT to the `swift`
executable when it is not on PATH (/opt/swift/usr/bin/swift is tried too).
"""

import os
import shutil
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = Path(__file__).resolve().parent
REPOSITORY = HERE.parent
LIBRARY = "libExpertPlacementC.so"
HEADER = REPOSITORY / "Sources" / "ExpertPlacementC" / "include" / "expert_placement.h"


def swift_executable() -> str:
    for candidate in (os.environ.get("SWIFT"), shutil.which("swift"), "/opt/swift/usr/bin/swift"):
        if candidate and Path(candidate).exists():
            return candidate
    raise RuntimeError(
        "building expert-placement needs the Swift toolchain (6.1 or later) to compile "
        "libExpertPlacementC: put `swift` on PATH, set SWIFT=/path/to/swift, or set "
        "EXPERT_PLACEMENT_PREBUILT=/path/to/libExpertPlacementC.so"
    )


def build_library() -> Path:
    prebuilt = os.environ.get("EXPERT_PLACEMENT_PREBUILT")
    if prebuilt:
        path = Path(prebuilt)
        if not path.is_file():
            raise RuntimeError(f"EXPERT_PLACEMENT_PREBUILT={prebuilt}: no such file")
        return path
    if not (REPOSITORY / "Package.swift").is_file():
        raise RuntimeError(f"{REPOSITORY} is not an ExpertPlacement clone (no Package.swift): cannot build the library")
    scratch = REPOSITORY / ".build-python"
    command = [
        swift_executable(), "build", "-c", "release", "--product", "ExpertPlacementC",
        "-Xswiftc", "-static-stdlib", "--scratch-path", str(scratch),
    ]
    print("building the library:", " ".join(command), flush=True)
    subprocess.run(command, cwd=REPOSITORY, check=True)
    return scratch / "release" / LIBRARY


class BuildWithLibrary(build_py):
    def run(self):
        super().run()
        target = Path(self.build_lib) / "expert_placement"
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(build_library(), target / LIBRARY)
        if HEADER.is_file():
            shutil.copyfile(HEADER, target / "expert_placement.h")


class BinaryDistribution(Distribution):
    """The wheel holds a native library: mark it platform-specific."""

    def has_ext_modules(self):
        return True


setup(cmdclass={"build_py": BuildWithLibrary}, distclass=BinaryDistribution)
