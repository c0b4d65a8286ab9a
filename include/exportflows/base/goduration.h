/* goduration — Go's time.ParseDuration, for the durations Kubernetes and the
 * OpenShift operators write as text ("10s", "1m30s", "1.5h", "500ms").
 *
 * The grammar and the arithmetic are Go's, so a text means here what it means
 * to the Go program that reads it too:
 *   [-+]?([0-9]*(\.[0-9]*)?UNIT)+   or   [-+]?0
 *   UNIT: ns, us, µs (U+00B5), μs (U+03BC), ms, s, m, h
 * A term needs a digit before or after its point ("1.s" and ".5s" are fine,
 * ".s" is not); a unit is the longest run of characters that are neither a
 * digit nor '.', and must be one of the above ("1sx" is an unknown unit "sx").
 * Fractions are converted as Go does (through a double, truncated to whole
 * nanoseconds), and a value outside the range of Go's Duration (int64
 * nanoseconds) is refused. */
#ifndef EXPORTFLOWS_GODURATION_H
#define EXPORTFLOWS_GODURATION_H

#include <stddef.h>
#include <stdint.h>

#define GODURATION_NS_PER_SECOND 1000000000LL

/* Parses the 'len' bytes at 'text' (no NUL needed; one inside is just an
 * unknown unit character).  Returns 0 and writes '*ret_ns', -EINVAL for text
 * that is not a duration, or -ERANGE for one outside int64 nanoseconds (Go's
 * "invalid duration" for both). */
int goduration_parse(const char *text, size_t len, int64_t *ret_ns);

#endif
