/* fuzz_collector — one collector address (src/admission/collector.c), the text every
 * spec, config and --node-ip holds.
 *
 * collector_parse() and collector_parse_ip() on the input as a C string.
 * Checks, besides the sanitizers: an accepted collector is at most
 * COLLECTOR_INPUT_MAX characters; its canonical text (collector_format())
 * parses back to an equal collector and formats the same; a refusal says why;
 * an address resolves a ":PORT" collector to itself with that port. */
#include "exportflows/admission/collector.h"
#include "fuzz.h"

static void
check_collector(const char *text)
{
    char buf[COLLECTOR_TEXT_SIZE], again_buf[COLLECTOR_TEXT_SIZE];
    struct collector c, again;
    const char *why = NULL;

    if (collector_parse(text, &c, &why)) {
        FUZZ_CHECK(why && why[0], "refused without a reason");
        return;
    }
    FUZZ_CHECK(strlen(text) <= COLLECTOR_INPUT_MAX, "accepted %zu characters", strlen(text));
    FUZZ_CHECK(c.port != 0, "port 0 accepted");
    collector_format(&c, buf);
    FUZZ_CHECK(!collector_parse(buf, &again, &why), "canonical '%s' refused: %s", buf, why);
    FUZZ_CHECK(collector_equal(&c, &again), "'%s' reads back different", buf);
    FUZZ_CHECK(!strcmp(collector_format(&again, again_buf), buf), "format not stable");
    (void) collector_scope_name(collector_scope(&c));
}

static void
check_ip(const char *text)
{
    struct collector ip, node = { .kind = COLLECTOR_NODE_IP, .port = 4739 }, resolved;
    char buf[COLLECTOR_TEXT_SIZE];
    const char *why = NULL;

    if (collector_parse_ip(text, &ip, &why)) {
        FUZZ_CHECK(why && why[0], "refused without a reason");
        return;
    }
    FUZZ_CHECK(ip.port == 0 && ip.kind != COLLECTOR_NODE_IP, "not a bare address");
    resolved = collector_resolve(&node, &ip);
    FUZZ_CHECK(resolved.kind == ip.kind && resolved.port == 4739
               && !memcmp(resolved.addr, ip.addr, sizeof ip.addr), "resolve");
    collector_format(&resolved, buf);
    FUZZ_CHECK(!collector_parse(buf, &resolved, &why), "resolved '%s' refused: %s", buf, why);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_strndup(data, size);

    check_collector(text);
    check_ip(text);
    free(text);
    return 0;
}
