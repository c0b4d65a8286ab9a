/* log — one line per event on stderr, as text or JSON, for the programs in cmd/.
 *
 * Library modules never log; programs do, once per event, cause first:
 *   log_event(LOG_ERROR, "cannot connect to ovsdb",
 *             "address", "unix:/run/openvswitch/db.sock", "error", "no such file", NULL);
 * Text:  2026-11-29T20:00:00.123Z error cannot connect to ovsdb address=unix:... error="no such file"
 * JSON:  {"time":"...","level":"error","msg":"cannot connect to ovsdb","address":"...",...}
 * Arguments after the message are key/value string pairs ended by NULL.  A value
 * that is a decimal number, true or false is written unquoted in JSON.  Lines are
 * written with one write(2) so concurrent threads do not interleave. */
#ifndef EXPORTFLOWS_LOG_H
#define EXPORTFLOWS_LOG_H

#include <stdbool.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };
enum log_format { LOG_FORMAT_TEXT, LOG_FORMAT_JSON };

/* The names of the formats ("text", "json") and levels ("debug" ... "error"),
 * indexed by their enums and NULL-terminated (the --log-format and --log-level
 * choices). */
extern const char *const log_format_names[];
extern const char *const log_level_names[];

/* Sets the process-wide format and threshold (defaults: text, info). */
void log_configure(enum log_format format, enum log_level threshold);

bool log_enabled(enum log_level level);

void log_event(enum log_level level, const char *msg, ...)
    __attribute__((sentinel));

#endif
