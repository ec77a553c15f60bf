/*
 * The counting check of the C programs the ffi tests run: each failed
 * check prints a FAIL line; the program ends with DONE <checks> <failures>.
 */
#ifndef TOXIDE_FFI_TEST_CHECK_H
#define TOXIDE_FFI_TEST_CHECK_H

#include <stdbool.h>
#include <stdio.h>

static unsigned checks;
static unsigned failures;

static void check(const char *what, int line, bool ok)
{
    ++checks;
    if (!ok) {
        ++failures;
        printf("FAIL line %d: %s\n", line, what);
    }
}

#define CHECK(cond) check(#cond, __LINE__, (cond))

#endif
