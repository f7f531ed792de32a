#ifndef CGLPK_SHIM_H
#define CGLPK_SHIM_H
/* GLPK ships no pkg-config file, so SwiftPM cannot print its install hint: do it here. */
#if __has_include(<glpk.h>)
#include <glpk.h>
#else
#error "glpk.h not found: install GLPK with  apt-get install -y --no-install-recommends libglpk-dev"
#endif
#endif
