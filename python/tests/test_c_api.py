"""The C header matches the library: a C program compiled against expert_placement.h calls it."""

import shutil
import subprocess
from pathlib import Path

import pytest

import expert_placement
from expert_placement import _native

from conftest import run_c_program

PROGRAM = r"""
#include <math.h>
#include <stdio.h>
#include "expert_placement.h"

int main(void) {
    if (ep_abi_version() != EP_ABI_VERSION) return 10;
    double loads[2 * 12] = {90, 132, 40, 61, 104, 165, 39, 4, 73, 56, 183, 86,
                            20, 107, 104, 64, 19, 197, 187, 157, 172, 86, 16, 27};
    int64_t phy2log[2 * 16], logcnt[2 * 12], log2phy[2 * 12 * 5];
    double stats[2 * 3], seconds = -1;
    char message[256];
    int32_t code = ep_solve(loads, 2, 1, 12, 0, 8, 2, 2, 4, "hierarchical", "aggregate", 0, 0,
                            NULL, 0, -1, phy2log, logcnt, log2phy, 5, stats, &seconds, message, sizeof message);
    if (code != EP_OK) { fprintf(stderr, "%s\n", message); return 11; }
    for (int s = 0; s < 32; s++) printf("%lld ", (long long)phy2log[s]);
    printf("\n%.6f %d\n", stats[0], seconds >= 0);
    code = ep_validate(phy2log, 2, 12, 8, 2, NULL, message, sizeof message);
    if (code != EP_OK) return 12;
    phy2log[1] = phy2log[0];
    code = ep_validate(phy2log, 2, 12, 8, 2, NULL, message, sizeof message);
    printf("%d %s\n", code, message);
    code = ep_solve(loads, 2, 1, 12, 0, 8, 2, 2, 4, "nope", NULL, 0, 0, NULL, 0, -1,
                    phy2log, NULL, NULL, 0, NULL, NULL, message, 8);
    printf("%d [%s]\n", code, message);
    int32_t sources[2] = {-1, -1};
    double small[2 * 6] = {90, 132, 40, 61, 104, 165, 20, 107, 104, 64, 19, 197};
    code = ep_solve_ex(small, 2, 1, 6, 0, 2, 4, 1, 1, "search", "aggregate", 0, 0, NULL, 0, -1, NAN,
                       phy2log, NULL, NULL, 0, stats, sources, NULL, NULL, message, sizeof message);
    if (code != EP_OK) { fprintf(stderr, "%s\n", message); return 13; }
    printf("%d %d %d\n", sources[0] == EP_BOUND_OPTIMUM, sources[1] == EP_BOUND_OPTIMUM, stats[1] == stats[0]);
    return 0;
}
"""


def test_a_c_program_calls_the_library(tmp_path):
    out = run_c_program(PROGRAM, ["expert_placement.h"], tmp_path)
    assert out[0].split() == "5 6 5 7 8 4 3 4 10 9 10 2 0 1 11 1 7 10 6 8 6 11 8 9 2 4 5 1 5 0 3 1".split()
    assert out[1].endswith(" 1")
    assert out[2].startswith(f"{_native.EP_INVALID_PLACEMENT} ")
    assert out[3] == f"{_native.EP_INVALID_ARGUMENT} [method:]"  # truncated to the 8-byte buffer
    assert out[4] == "1 1 1"  # 6 experts on 2 × 4 slots: proven, the bound is the optimum


def test_installed_library_needs_no_swift_toolchain():
    """The library pip installs links the Swift runtime statically: it loads on a machine without
    Swift (only libc, libm, libstdc++ and libgcc_s)."""
    library = Path(_native.lib._name)
    if library.parent != Path(expert_placement.__file__).parent:
        pytest.skip("library loaded from EXPERT_PLACEMENT_LIBRARY, not the installed package")
    ldd = shutil.which("ldd")
    if ldd is None:
        pytest.skip("no ldd")
    needed = subprocess.run([ldd, str(library)], capture_output=True, text=True, check=True).stdout
    assert "swift" not in needed.lower() and "dispatch" not in needed.lower(), needed
