/*
 * fz_driver.h - the contract between a fuzz target and its drivers
 * (fz_driver.c for tests; libFuzzer for `make fuzz`).
 */
#ifndef FZ_DRIVER_H
#define FZ_DRIVER_H

#include <stddef.h>
#include <stdint.h>

#include "cm_compiler.h"

typedef void (*fz_emit_fn)(void *arg, const uint8_t *data, size_t len);

/* The target: must never crash, hang, leak or read outside data[len]. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

/* Valid inputs for the driver to mutate; each target defines it. */
void fz_seeds(fz_emit_fn emit, void *arg);

#endif /* FZ_DRIVER_H */
