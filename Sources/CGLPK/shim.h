#ifndef CGLPK_SHIM_H
#define CGLPK_SHIM_H
/* GLPK ships no pkg-config file, so SwiftPM cannot print its install hint: do it here. */
#if __has_include(<glpk.h>)
#include <glpk.h>
#else
#error "glpk.h not found: install GLPK with  apt-get install -y --no-install-recommends libglpk-dev"
#endif
#include <setjmp.h>
#include <stddef.h>

/* GLPK reports an internal failure (an assertion in its simplex on numerical trouble, say) through
 * glp_error, which aborts the process. The guarded calls below catch it instead: an error hook
 * longjmps back into the wrapper (crossing only GLPK's own C frames, never a Swift one), the
 * thread's GLPK environment is freed as GLPK's manual requires after an error (and with it every
 * GLPK object of this thread), and the call returns CGLPK_FAILED. cglpk_generation() changes at
 * each such failure: an object made before it no longer exists and must not be freed again. */
#define CGLPK_FAILED (-1000)

static _Thread_local unsigned long cglpk_failures = 0;
static _Thread_local jmp_buf *cglpk_landing = NULL;

static void cglpk_on_error(void *info) {
    (void)info;
    if (cglpk_landing != NULL) longjmp(*cglpk_landing, 1);
}

/* The number of GLPK failures caught on this thread so far. */
static inline unsigned long cglpk_generation(void) { return cglpk_failures; }

/* The body of a guarded call: `CALL` under the error hook, CGLPK_FAILED after an internal error.
 * (setjmp is called in the wrapper itself, the frame the hook jumps back to.) */
#define CGLPK_GUARDED(CALL) \
    jmp_buf landing; \
    jmp_buf *outer = cglpk_landing; \
    if (setjmp(landing)) { \
        cglpk_landing = outer; \
        glp_error_hook(NULL, NULL); \
        glp_free_env(); \
        cglpk_failures += 1; \
        return CGLPK_FAILED; \
    } \
    cglpk_landing = &landing; \
    glp_error_hook(cglpk_on_error, NULL); \
    int code = CALL; \
    glp_error_hook(NULL, NULL); \
    cglpk_landing = outer; \
    return code;

static inline int cglpk_simplex(glp_prob *problem, const glp_smcp *parm) { CGLPK_GUARDED(glp_simplex(problem, parm)) }

static inline int cglpk_intopt(glp_prob *problem, const glp_iocp *parm) { CGLPK_GUARDED(glp_intopt(problem, parm)) }
#endif
