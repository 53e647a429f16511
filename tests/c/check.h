/* Minimal checks for the C tests: each CHECK counts, FINISH prints
 * "N passed, N failed" and gives the exit status. */
#ifndef TEST_CHECK_H
#define TEST_CHECK_H

#include <stdio.h>

static int checks_passed, checks_failed;

#define CHECK(cond, ...)                                        \
    do {                                                        \
        if (cond) {                                             \
            checks_passed++;                                    \
        } else {                                                \
            checks_failed++;                                    \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);         \
            printf(__VA_ARGS__);                                \
            printf("\n");                                       \
        }                                                       \
    } while (0)

#define FINISH()                                                          \
    (printf("%d passed, %d failed\n", checks_passed, checks_failed),      \
     (checks_failed == 0 && checks_passed > 0) ? 0 : 1)

#endif
