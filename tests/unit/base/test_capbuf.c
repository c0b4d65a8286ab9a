/* Unit tests for capbuf: growth up to the cap, the one overflow errno, the
 * remembered failure, caller storage, cutting, and wiping. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "exportflows/base/capbuf.h"

static bool
all_zero(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i]) {
            return false;
        }
    }
    return true;
}

static void
test_capbuf_appends_and_takes(void **state)
{
    struct capbuf b;
    char *text;
    size_t len;

    capbuf_init(&b, 1000, 0);
    assert_string_equal(capbuf_str(&b), "");
    assert_null(b.data);
    assert_int_equal(capbuf_append(&b, "abc", 3), 0);
    assert_int_equal(capbuf_printf(&b, "-%d-%s", 42, "x"), 0);
    assert_int_equal(b.len, 8);
    assert_string_equal(capbuf_str(&b), "abc-42-x");
    assert_int_equal(capbuf_take(&b, &text, &len), 0);
    assert_string_equal(text, "abc-42-x");
    assert_int_equal(len, 8);
    free(text);
    assert_int_equal(b.len, 0);
    assert_null(b.data);
    /* Taking an empty buffer gives an empty string of one's own. */
    assert_int_equal(capbuf_take(&b, &text, NULL), 0);
    assert_string_equal(text, "");
    free(text);
    capbuf_release(&b);
}

static void
test_capbuf_grows_in_steps_to_the_cap(void **state)
{
    struct capbuf b;
    char chunk[100];

    memset(chunk, 'x', sizeof chunk);
    capbuf_init(&b, 1000, 0);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(capbuf_append(&b, chunk, sizeof chunk), 0);
        assert_true(b.cap >= b.len && b.cap <= 1000);
    }
    assert_int_equal(b.len, 1000);
    assert_int_equal(capbuf_room(&b), 0);
    assert_int_equal(capbuf_append(&b, "", 0), 0);
    capbuf_release(&b);
}

static void
test_capbuf_overflow_is_e2big_and_keeps_contents(void **state)
{
    struct capbuf b;
    char *text = NULL, *p;

    capbuf_init(&b, 10, 0);
    assert_int_equal(capbuf_append(&b, "12345", 5), 0);
    assert_int_equal(capbuf_append(&b, "678901", 6), -E2BIG);
    assert_string_equal(capbuf_str(&b), "12345");
    assert_int_equal(capbuf_printf(&b, "%s", "abcdefghijk"), -E2BIG);
    assert_string_equal(capbuf_str(&b), "12345");
    assert_int_equal(capbuf_reserve(&b, 6, &p), -E2BIG);
    /* What fits still goes in, but the failure is remembered until a reset. */
    assert_int_equal(capbuf_append(&b, "67890", 5), 0);
    assert_string_equal(capbuf_str(&b), "1234567890");
    assert_int_equal(capbuf_take(&b, &text, NULL), -E2BIG);
    assert_null(text);
    assert_string_equal(capbuf_str(&b), "1234567890");
    capbuf_reset(&b);
    assert_int_equal(capbuf_append(&b, "ok", 2), 0);
    assert_int_equal(capbuf_take(&b, &text, NULL), 0);
    assert_string_equal(text, "ok");
    free(text);
    capbuf_release(&b);
}

static void
test_capbuf_printf_grows_past_first_try(void **state)
{
    struct capbuf b;
    char big[300];

    memset(big, 'y', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    capbuf_init(&b, 4096, 0);
    assert_int_equal(capbuf_append(&b, "a", 1), 0);
    assert_int_equal(capbuf_printf(&b, "[%s]", big), 0);
    assert_int_equal(b.len, 1 + 2 + 299);
    assert_int_equal(b.data[1], '[');
    assert_int_equal(b.data[b.len - 1], ']');
    assert_int_equal(b.data[b.len], '\0');
    capbuf_release(&b);
}

static void
test_capbuf_fixed_storage_never_allocates(void **state)
{
    char storage[8];
    struct capbuf b;
    char *text;

    capbuf_init_fixed(&b, storage, sizeof storage, 0);
    assert_ptr_equal(b.data, storage);
    assert_int_equal(capbuf_printf(&b, "%d", 1234567), 0);
    assert_ptr_equal(b.data, storage);
    assert_int_equal(capbuf_append(&b, "8", 1), -E2BIG);
    assert_int_equal(capbuf_printf(&b, "%d", 8), -E2BIG);
    assert_string_equal(storage, "1234567");
    capbuf_reset(&b);
    assert_int_equal(capbuf_append(&b, "xy", 2), 0);
    /* Take copies out of the caller's storage. */
    assert_int_equal(capbuf_take(&b, &text, NULL), 0);
    assert_string_equal(text, "xy");
    assert_ptr_not_equal(text, storage);
    free(text);
    assert_int_equal(b.len, 0);
    assert_ptr_equal(b.data, storage);
    capbuf_release(&b);
}

static void
test_capbuf_cut_keeps_what_fits(void **state)
{
    char storage[8];
    struct capbuf b;

    capbuf_init_fixed(&b, storage, sizeof storage, CAPBUF_CUT);
    assert_int_equal(capbuf_append(&b, "abcd", 4), 0);
    assert_int_equal(capbuf_append(&b, "efghij", 6), -E2BIG);
    assert_string_equal(storage, "abcdefg");
    capbuf_truncate(&b, 3);
    assert_int_equal(capbuf_printf(&b, "%s", "XYZWVU"), -E2BIG);
    assert_string_equal(storage, "abcXYZW");

    capbuf_init(&b, 5, CAPBUF_CUT);
    assert_int_equal(capbuf_printf(&b, "%d", 12345678), -E2BIG);
    assert_string_equal(capbuf_str(&b), "12345");
    capbuf_release(&b);
}

static void
test_capbuf_reserve_commit_consume(void **state)
{
    struct capbuf b;
    char *p;

    capbuf_init(&b, 16, 0);
    assert_int_equal(capbuf_reserve(&b, 10, &p), 0);
    memcpy(p, "0123456789", 10);
    capbuf_commit(&b, 6);
    assert_string_equal(capbuf_str(&b), "012345");
    capbuf_consume(&b, 4);
    assert_string_equal(capbuf_str(&b), "45");
    capbuf_consume(&b, 99);
    assert_int_equal(b.len, 0);
    assert_string_equal(capbuf_str(&b), "");
    assert_int_equal(capbuf_reserve(&b, 16, &p), 0);
    assert_int_equal(capbuf_reserve(&b, 17, &p), -E2BIG);
    capbuf_release(&b);
}

static void
test_capbuf_cap_for_predicts_growth(void **state)
{
    struct capbuf b;
    size_t want;

    capbuf_init(&b, 100, 0);
    /* A first allocation is what is asked for: a declared size, say. */
    assert_int_equal(capbuf_cap_for(&b, 10), 10);
    assert_int_equal(capbuf_append(&b, "0123456789", 10), 0);
    assert_int_equal(b.cap, 10);
    assert_int_equal(capbuf_cap_for(&b, 0), 10);
    want = capbuf_cap_for(&b, 1);
    assert_int_equal(want, 20);
    assert_int_equal(capbuf_append(&b, "x", 1), 0);
    assert_int_equal(b.cap, want);
    assert_int_equal(capbuf_cap_for(&b, 89), 100);    /* never past the cap */
    assert_int_equal(capbuf_cap_for(&b, 90), 20);     /* refused: no growth */
    capbuf_release(&b);
}

static void
test_capbuf_wipe_zeroes_given_back_bytes(void **state)
{
    char storage[32];
    struct capbuf b;

    memset(storage, 'z', sizeof storage);
    capbuf_init_fixed(&b, storage, sizeof storage, CAPBUF_WIPE);
    assert_int_equal(capbuf_append(&b, "secret-key-bytes", 16), 0);
    capbuf_truncate(&b, 6);
    assert_string_equal(storage, "secret");
    assert_true(all_zero(storage + 6, 11));
    capbuf_consume(&b, 2);
    assert_string_equal(storage, "cret");
    assert_true(all_zero(storage + 4, 13));
    capbuf_reset(&b);
    assert_true(all_zero(storage, 17));
    assert_int_equal(capbuf_append(&b, "again", 5), 0);
    capbuf_release(&b);
    assert_true(all_zero(storage, 17));

    /* Own storage: growth leaves the contents intact, consume wipes the tail. */
    capbuf_init(&b, 4096, CAPBUF_WIPE);
    for (int i = 0; i < 100; i++) {
        assert_int_equal(capbuf_append(&b, "0123456789", 10), 0);
    }
    assert_int_equal(b.len, 1000);
    assert_memory_equal(b.data + 990, "0123456789", 10);
    capbuf_consume(&b, 500);
    assert_int_equal(b.len, 500);
    assert_true(all_zero(b.data + 501, 500));
    capbuf_release(&b);
    assert_null(b.data);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_capbuf_appends_and_takes),
        cmocka_unit_test(test_capbuf_grows_in_steps_to_the_cap),
        cmocka_unit_test(test_capbuf_overflow_is_e2big_and_keeps_contents),
        cmocka_unit_test(test_capbuf_printf_grows_past_first_try),
        cmocka_unit_test(test_capbuf_fixed_storage_never_allocates),
        cmocka_unit_test(test_capbuf_cut_keeps_what_fits),
        cmocka_unit_test(test_capbuf_reserve_commit_consume),
        cmocka_unit_test(test_capbuf_cap_for_predicts_growth),
        cmocka_unit_test(test_capbuf_wipe_zeroes_given_back_bytes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
