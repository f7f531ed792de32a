#ifndef CLAPACKE_SHIM_H
#define CLAPACKE_SHIM_H
/* LAPACKE's C interface to LAPACK (least squares for the forecaster in LoadForecasting). */
#if __has_include(<lapacke.h>)
#include <lapacke.h>
#else
#error "lapacke.h not found: run  apt-get install -y liblapacke-dev"
#endif
#endif
