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
    /* Errors name the C parameters, not the library's fields. */
    code = ep_solve(loads, 2, 1, 12, 0, 8, 2, 3, 1, "search", NULL, 0, 0, NULL, 0, -1,
                    phy2log, NULL, NULL, 0, NULL, NULL, message, sizeof message);
    printf("%d %s\n", code, message);
    code = ep_solve(loads, 2, 1, 12, 0, 2, 2, 1, 1, "search", NULL, 0, 0, NULL, 0, -1,
                    phy2log, NULL, NULL, 0, NULL, NULL, message, sizeof message);
    printf("%d %s\n", code, message);
    for (int s = 0; s < 16; s++) phy2log[s] = s % 12;
    phy2log[5] = 4294967301LL;
    code = ep_validate(phy2log, 1, 12, 8, 2, NULL, message, sizeof message);
    printf("%d %s\n", code, message);
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
    assert out[5] == f"{_native.EP_INVALID_ARGUMENT} nodes: devices (8) is not divisible by nodes (3)"
    assert out[6].startswith(f"{_native.EP_INVALID_ARGUMENT} devices, slots_per_device: fewer slots (2 devices × 2 slots = 4)")
    # An id beyond 32 bits is reported as given, not clamped.
    assert out[7] == f"{_native.EP_INVALID_PLACEMENT} layer 0, device 2: slot 5 holds expert id 4294967301, out of range 0..<12"


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


MEMORY_PROGRAM = r"""
#include <math.h>
#include <stdio.h>
#include "expert_placement.h"

/* Two layers, 8 experts on 4 devices x 3 slots; windows of 8 iterations whose hot experts
 * alternate (0-2, then 5-7) from one window to the next: 4 redundant slots cannot serve both
 * regimes' hot experts twice, so the window's plan always fits the other regime badly. */
static void window(int w, double *loads) {
    for (int t = 0; t < 8; t++)
        for (int l = 0; l < 2; l++)
            for (int x = 0; x < 8; x++) {
                int hot = (w % 2 == 0) ? x < 3 : x >= 5;
                loads[(t * 2 + l) * 8 + x] = (hot ? 400 : 100) + ((t * 7 + x * 3 + l) % 5);
            }
}

int main(void) {
    char message[256];
    ep_regime_memory *memory = (ep_regime_memory *)1;
    int32_t code = ep_regime_memory_create(1, &memory, message, sizeof message);
    printf("%d %d %s\n", code, memory == NULL, message);
    if (ep_regime_memory_create(8, &memory, message, sizeof message) != EP_OK) return 10;
    int64_t current[2 * 12] = {0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3};
    int64_t plain[2 * 12], phy2log[2 * 12], priority[2], moves[2];
    double loads[8 * 2 * 8], before[2], after[2], recorded[2] = {NAN, NAN}, seconds;
    for (int s = 0; s < 24; s++) plain[s] = current[s];
    int memory_calls = 0;
    for (int w = 0; w < 8; w++) {
        window(w, loads);
        int32_t planned_on = -1;
        code = ep_rebalance_ex(loads, 2, 8, 8, 1, 4, 3, 1, 1, "search", "mean", 0, 0, current, 0.002, -1,
                               recorded, NAN, NAN, NAN, -1, memory, phy2log, priority, moves, before, after,
                               recorded, &planned_on, &seconds, message, sizeof message);
        if (code != EP_OK) { fprintf(stderr, "%s\n", message); return 11; }
        if (ep_validate(phy2log, 2, 8, 4, 3, current, message, sizeof message) != EP_OK) return 12;
        if (w < 2 && planned_on != 0) return 13;
        memory_calls += planned_on;
        for (int s = 0; s < 24; s++) current[s] = phy2log[s];
    }
    printf("memory %d\n", memory_calls > 0);
    /* Without a memory, ep_rebalance_ex is ep_rebalance. */
    int64_t a[24], b[24];
    window(0, loads);
    if (ep_rebalance_ex(loads, 2, 8, 8, 1, 4, 3, 1, 1, "search", "mean", 0, 0, plain, 0.002, -1, NULL, NAN, NAN,
                        NAN, -1, NULL, a, NULL, NULL, NULL, NULL, NULL, NULL, NULL, message, sizeof message) != EP_OK) return 14;
    if (ep_rebalance(loads, 2, 8, 8, 1, 4, 3, 1, 1, "search", "mean", 0, 0, plain, 0.002, -1, NULL, NAN, NAN,
                     NAN, -1, b, NULL, NULL, NULL, NULL, NULL, NULL, message, sizeof message) != EP_OK) return 15;
    int same = 1;
    for (int s = 0; s < 24; s++) same &= a[s] == b[s];
    printf("same %d\n", same);
    /* A measured move price: NaN before the first call, 2 at it, then within 2..8. */
    double k = 0;
    if (ep_regime_memory_set_payback(memory, 0.004, 0.5, 8, message, sizeof message) != EP_INVALID_ARGUMENT) return 16;
    if (ep_regime_memory_set_payback(memory, 0.004, 2, 8, message, sizeof message) != EP_OK) return 17;
    if (ep_regime_memory_payback(memory, &k, message, sizeof message) != EP_OK || !isnan(k)) return 18;
    int in_range = 1;
    for (int w = 0; w < 3; w++) {
        window(0, loads);
        if (ep_rebalance_ex(loads, 2, 8, 8, 1, 4, 3, 1, 1, "search", "mean", 0, 0, current, 0.002, -1, NULL, NAN,
                            NAN, NAN, -1, memory, phy2log, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                            message, sizeof message) != EP_OK) return 19;
        if (ep_regime_memory_payback(memory, &k, message, sizeof message) != EP_OK) return 20;
        in_range &= (w == 0 ? k == 2 : k >= 2 && k <= 8);
        for (int s = 0; s < 24; s++) current[s] = phy2log[s];
    }
    printf("payback %d\n", in_range);
    ep_regime_memory_free(memory);
    ep_regime_memory_free(NULL);
    return 0;
}
"""


def test_a_c_program_rebalances_with_a_regime_memory(tmp_path):
    out = run_c_program(MEMORY_PROGRAM, ["expert_placement.h"], tmp_path)
    assert out[0].startswith(f"{_native.EP_INVALID_ARGUMENT} 1 windows: must be 2 to 4096")
    assert out[1] == "memory 1"  # alternating regimes: the memory's plan is chosen at some call
    assert out[2] == "same 1"
    assert out[3] == "payback 1"
