/* fuzz — what the libFuzzer harnesses of tests/fuzz/ share.
 *
 * One harness per parser that reads outside input (fuzz_<target>.c), built by
 * `make fuzz` with clang and -fsanitize=fuzzer,address,undefined, so a crash,
 * a leak, undefined behaviour or a FUZZ_CHECK() that fails ends the run with
 * the input that did it written under build/fuzz/artifacts/.  Harnesses free
 * everything they get: leak detection is on. */
#ifndef EXPORTFLOWS_TESTS_FUZZ_H
#define EXPORTFLOWS_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* libFuzzer's entry point, called once per input; returns 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A property that must hold: when it does not, says which and aborts, which
 * libFuzzer reports as a crash with its reproducer. */
#define FUZZ_CHECK(cond, ...)                                                   \
    do {                                                                        \
        if (!(cond)) {                                                          \
            fprintf(stderr, "fuzz: %s:%d: check failed: %s: ", __FILE__,        \
                    __LINE__, #cond);                                           \
            fprintf(stderr, __VA_ARGS__);                                       \
            fputc('\n', stderr);                                                \
            abort();                                                            \
        }                                                                       \
    } while (0)

/* A NUL-terminated copy of the input (for parsers of C strings, which then see
 * the text up to its first NUL).  Caller frees; aborts on ENOMEM. */
static inline char *
fuzz_strndup(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);

    FUZZ_CHECK(s != NULL, "out of memory");
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* Sizes of the pieces a stream harness cuts its input into, cycling, so that
 * every parser state meets a piece boundary as the fuzzer shifts the bytes. */
static inline size_t
fuzz_piece(size_t i)
{
    static const size_t sizes[] = { 1, 7, 64, 2, 4096, 3, 31, 1, 512, 13 };

    return sizes[i % (sizeof sizes / sizeof sizes[0])];
}

#endif
