/* End-to-end tests of the `exportflows` command-line tool, run as a real process
 * (EXPORTFLOWS_BIN_DIR/exportflows, else bin/exportflows).
 *
 * The cases under tests/data/manifests/cli/<case>/ hold "args" (one argument per
 * line), the input files, optionally "stdin", and "expected.status",
 * "expected.stdout" and "expected.stderr"; the program runs in the case's
 * directory so that file names print as given.  JSON output, certs, render and
 * --help/--version are checked here in code. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "exportflows/http/certs.h"
#include "exportflows/base/numparse.h"

#include "../lib/testutil.h"

#define CASES_DIR "tests/data/manifests/cli"
#define MAX_CASES 64
#define MAX_ARGS 32
#define OUTPUT_MAX (4 * 1024 * 1024)
#define RUN_TIMEOUT_MS 30000

static char program[PATH_MAX];

/* ---- running the program -------------------------------------------------------- */

struct output {
    char *data;
    size_t len;
};

struct run_result {
    int status;                 /* exit status; -1 when killed by a signal */
    struct output out, err;
};

static void
run_result_release(struct run_result *r)
{
    free(r->out.data);
    free(r->err.data);
}

/* Appends what is ready on 'fd'; returns false at end of file. */
static bool
drain(int fd, struct output *o)
{
    char buf[65536];
    ssize_t n = read(fd, buf, sizeof buf);

    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        return true;
    }
    if (n <= 0) {
        return false;
    }
    assert_true(o->len + (size_t) n <= OUTPUT_MAX);
    o->data = realloc(o->data, o->len + (size_t) n + 1);
    assert_non_null(o->data);
    memcpy(o->data + o->len, buf, (size_t) n);
    o->len += (size_t) n;
    o->data[o->len] = '\0';
    return true;
}

static pid_t
spawn(const char *cwd, char *const argv[], int in[2], int out[2], int err[2])
{
    pid_t pid;

    assert_int_equal(pipe2(in, O_CLOEXEC), 0);
    assert_int_equal(pipe2(out, O_CLOEXEC), 0);
    assert_int_equal(pipe2(err, O_CLOEXEC), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if ((cwd && chdir(cwd)) || dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0
            || dup2(err[1], 2) < 0) {
            _exit(126);
        }
        execv(program, argv);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    close(err[1]);
    fcntl(in[1], F_SETFL, O_NONBLOCK);
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    fcntl(err[0], F_SETFL, O_NONBLOCK);
    return pid;
}

/* Runs the program with 'argv' (argv[0] included, NULL-terminated) in 'cwd' (NULL:
 * here), feeding it 'input' (may be NULL), and collects its output.  Fails the
 * test when it runs longer than RUN_TIMEOUT_MS. */
static void
run_cli(const char *cwd, const char *input, char *const argv[], struct run_result *res)
{
    int in[2], out[2], err[2];
    size_t in_len = input ? strlen(input) : 0, in_done = 0;
    bool out_open = true, err_open = true;
    struct testutil_deadline deadline = testutil_deadline_ms(RUN_TIMEOUT_MS);
    pid_t pid = spawn(cwd, argv, in, out, err);
    int wstatus;

    memset(res, 0, sizeof *res);
    if (in_len == 0) {
        close(in[1]);
        in[1] = -1;
    }
    while (out_open || err_open) {
        struct pollfd fds[3] = {
            { .fd = out_open ? out[0] : -1, .events = POLLIN },
            { .fd = err_open ? err[0] : -1, .events = POLLIN },
            { .fd = in[1], .events = POLLOUT },
        };
        unsigned left = testutil_deadline_left_ms(&deadline);

        if (left == 0) {
            kill(pid, SIGKILL);
            fail_msg("%s did not finish within %d ms", argv[1] ? argv[1] : argv[0],
                     RUN_TIMEOUT_MS);
        }
        if (poll(fds, 3, (int) left) < 0) {
            continue;
        }
        if (fds[0].revents) {
            out_open = drain(out[0], &res->out);
        }
        if (fds[1].revents) {
            err_open = drain(err[0], &res->err);
        }
        if (fds[2].revents) {
            ssize_t n = write(in[1], input + in_done, in_len - in_done);

            in_done += n > 0 ? (size_t) n : 0;
            if (n < 0 && errno != EAGAIN) {
                in_done = in_len;   /* the program stopped reading */
            }
            if (in_done == in_len) {
                close(in[1]);
                in[1] = -1;
            }
        }
    }
    if (in[1] >= 0) {
        close(in[1]);
    }
    close(out[0]);
    close(err[0]);
    assert_int_equal(waitpid(pid, &wstatus, 0), pid);
    res->status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
    if (!res->out.data) {
        res->out.data = strdup("");
    }
    if (!res->err.data) {
        res->err.data = strdup("");
    }
}

/* run_cli() with the arguments given as a list ended by NULL. */
static void
run_args(struct run_result *res, const char *input, ...)
{
    char *argv[MAX_ARGS] = { "exportflows" };
    size_t n = 1;
    va_list ap;

    va_start(ap, input);
    for (char *arg; (arg = va_arg(ap, char *)); ) {
        assert_true(n < MAX_ARGS - 1);
        argv[n++] = arg;
    }
    va_end(ap);
    argv[n] = NULL;
    run_cli(NULL, input, argv, res);
}

static bool
starts_with(const char *s, const char *prefix)
{
    return !strncmp(s, prefix, strlen(prefix));
}

/* ---- data-driven cases ---------------------------------------------------------- */

static char *
read_case_file(const char *dir, const char *name)
{
    char path[PATH_MAX];
    FILE *f;
    char *text = NULL;
    size_t len = 0;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "re");
    if (!f) {
        return NULL;
    }
    text = malloc(OUTPUT_MAX);
    assert_non_null(text);
    len = fread(text, 1, OUTPUT_MAX - 1, f);
    text[len] = '\0';
    fclose(f);
    return text;
}

/* Splits the "args" file into argv (pointers into 'text'). */
static void
split_args(char *text, char *argv[MAX_ARGS])
{
    size_t n = 1;

    argv[0] = "exportflows";
    for (char *line = text; *line; ) {
        char *nl = strchr(line, '\n');

        if (nl) {
            *nl = '\0';
        }
        if (*line) {
            assert_true(n < MAX_ARGS - 1);
            argv[n++] = line;
        }
        line = nl ? nl + 1 : line + strlen(line);
    }
    argv[n] = NULL;
}

static void
check_output(const char *name, const char *what, const char *got, const char *want)
{
    if (want && strcmp(got, want)) {
        fail_msg("case %s: %s differs.\n--- got:\n%s--- want:\n%s", name, what, got, want);
    }
}

static void
run_case(const char *name)
{
    char dir[PATH_MAX];
    char *argv[MAX_ARGS];
    char *args, *input, *status, *want_out, *want_err;
    struct run_result res;

    snprintf(dir, sizeof dir, "%s/%s", CASES_DIR, name);
    args = read_case_file(dir, "args");
    status = read_case_file(dir, "expected.status");
    assert_non_null(args);
    assert_non_null(status);
    input = read_case_file(dir, "stdin");
    want_out = read_case_file(dir, "expected.stdout");
    want_err = read_case_file(dir, "expected.stderr");
    split_args(args, argv);
    run_cli(dir, input, argv, &res);
    uint64_t want_status;

    assert_int_equal(numparse_u64_n(status, strcspn(status, "\n"), 0, 255, &want_status), 0);
    if (res.status != (int) want_status) {
        fail_msg("case %s: exit status %d, want %s%s", name, res.status, status, res.err.data);
    }
    check_output(name, "stdout", res.out.data, want_out);
    check_output(name, "stderr", res.err.data, want_err);
    run_result_release(&res);
    free(args);
    free(input);
    free(status);
    free(want_out);
    free(want_err);
}

static void
test_cli_data_cases(void **state)
{
    size_t n = 0;
    char **names = testutil_list_dir(CASES_DIR, &n);

    assert_non_null(names);
    assert_true(n <= MAX_CASES);
    assert_true(n >= 15);
    for (size_t i = 0; i < n; i++) {
        run_case(names[i]);
    }
    testutil_free_names(names);
}

/* ---- JSON output ---------------------------------------------------------------- */

static json_t *
parse_json_output(const struct run_result *res)
{
    json_error_t jerr;
    json_t *doc = json_loads(res->out.data, JSON_REJECT_DUPLICATES, &jerr);

    if (!doc) {
        fail_msg("stdout is not JSON: %s\n%s", jerr.text, res->out.data);
    }
    return doc;
}

static void
test_cli_json_output(void **state)
{
    struct run_result res;
    json_t *doc, *objects, *o, *e;

    run_args(&res, NULL, "validate", "--output", "json",
             CASES_DIR "/multi-document/manifests.yaml",
             CASES_DIR "/list/list.yaml", "missing.yaml", NULL);
    assert_int_equal(res.status, 2);
    assert_string_equal(res.err.data, "missing.yaml: cannot open: No such file or directory\n");
    doc = parse_json_output(&res);
    assert_true(json_is_false(json_object_get(doc, "valid")));
    objects = json_object_get(doc, "objects");
    assert_int_equal(json_array_size(objects), 5);

    o = json_array_get(objects, 0);         /* the ConfigMap: skipped */
    assert_true(json_is_true(json_object_get(o, "skipped")));
    assert_string_equal(json_string_value(json_object_get(o, "kind")), "ConfigMap");
    assert_null(json_object_get(o, "valid"));

    o = json_array_get(objects, 1);         /* the invalid Network */
    assert_string_equal(json_string_value(json_object_get(o, "file")),
                        CASES_DIR "/multi-document/manifests.yaml");
    assert_int_equal(json_integer_value(json_object_get(o, "index")), 1);
    assert_int_equal(json_integer_value(json_object_get(o, "document")), 1);
    assert_int_equal(json_integer_value(json_object_get(o, "line")), 8);
    assert_string_equal(json_string_value(json_object_get(o, "name")), "cluster");
    assert_true(json_is_false(json_object_get(o, "skipped")));
    assert_true(json_is_false(json_object_get(o, "valid")));
    assert_int_equal(json_array_size(json_object_get(o, "errors")), 3);
    e = json_array_get(json_object_get(o, "errors"), 1);
    assert_string_equal(json_string_value(json_object_get(e, "field")),
                        "spec.exportNetworkFlows.ipfix[1]");
    assert_string_equal(json_string_value(json_object_get(e, "type")), "Duplicate value");
    assert_string_equal(json_string_value(json_object_get(e, "reason")), "FieldValueDuplicate");
    assert_string_equal(json_string_value(json_object_get(e, "message")),
                        "Duplicate value: \"[fd00::2]:2055\" (same as ipfix[0])");

    o = json_array_get(objects, 2);         /* the valid Network */
    assert_true(json_is_true(json_object_get(o, "valid")));
    assert_int_equal(json_array_size(json_object_get(o, "errors")), 0);
    assert_int_equal(json_array_size(json_object_get(o, "warnings")), 0);

    o = json_array_get(objects, 4);         /* the second item of the List */
    assert_int_equal(json_integer_value(json_object_get(o, "item")), 1);
    assert_int_equal(json_integer_value(json_object_get(o, "line")), 10);
    assert_string_equal(json_string_value(json_object_get(o, "name")), "broken");
    assert_int_equal(json_array_size(json_object_get(o, "errors")), 4);

    e = json_array_get(json_object_get(doc, "fileErrors"), 0);
    assert_string_equal(json_string_value(json_object_get(e, "file")), "missing.yaml");
    assert_non_null(strstr(json_string_value(json_object_get(e, "message")), "cannot open"));
    json_decref(doc);
    run_result_release(&res);
}

static void
test_cli_json_output_valid_with_warnings(void **state)
{
    struct run_result res;
    json_t *doc, *o;

    run_args(&res, NULL, "validate", "--output=json",
             CASES_DIR "/warnings-only/network.yaml", NULL);
    assert_int_equal(res.status, 0);
    assert_string_equal(res.err.data, "");
    doc = parse_json_output(&res);
    assert_true(json_is_true(json_object_get(doc, "valid")));
    o = json_array_get(json_object_get(doc, "objects"), 0);
    assert_true(json_is_true(json_object_get(o, "valid")));
    assert_int_equal(json_array_size(json_object_get(o, "warnings")), 3);
    assert_string_equal(json_string_value(json_array_get(json_object_get(o, "warnings"), 0)),
                        "spec.exportNetworkFlows.netFlow[0]: 127.0.0.1:2056 is a loopback address");
    json_decref(doc);
    run_result_release(&res);
}

static void
test_cli_validate_json_from_stdin(void **state)
{
    static const char input[] =
        "{\"apiVersion\": \"operator.openshift.io/v1\", \"kind\": \"Network\",\n"
        " \"spec\": {\"exportNetworkFlows\": {\"netFlow\": [\"[fd00::1]:2056\"]}}}\n";
    struct run_result res;

    run_args(&res, input, "validate", "-", NULL);
    assert_int_equal(res.status, 1);
    assert_string_equal(res.out.data,
                        "<stdin>: spec.exportNetworkFlows.netFlow[0]: Invalid value: "
                        "\"[fd00::1]:2056\": NetFlow v5 carries IPv4 only: use an IPv4 "
                        "address or :PORT\n");
    run_result_release(&res);
}

/* ---- certs ---------------------------------------------------------------------- */

static void
test_cli_certs_writes_files(void **state)
{
    char base[] = "/tmp/test_cli_XXXXXX";
    char dir[256], crt[PATH_MAX], key[PATH_MAX], ca[PATH_MAX];
    struct run_result res;
    struct errmsg err;
    struct stat st;
    time_t not_after;

    assert_non_null(mkdtemp(base));
    snprintf(dir, sizeof dir, "%s/new/certs", base);
    snprintf(crt, sizeof crt, "%s/tls.crt", dir);
    snprintf(key, sizeof key, "%s/tls.key", dir);
    snprintf(ca, sizeof ca, "%s/ca.crt", dir);
    run_args(&res, NULL, "certs", "--out", dir, "--san", "127.0.0.1", "--san=localhost",
             "--days", "2", NULL);
    assert_int_equal(res.status, 0);
    assert_string_equal(res.err.data, "");
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(stat(key, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(stat(ca, &st), 0);
    assert_int_equal(certs_check_pair(crt, key, &not_after, &err), 0);
    assert_true(not_after > time(NULL) + 86400 && not_after <= time(NULL) + 3 * 86400);
    run_result_release(&res);

    run_args(&res, NULL, "certs", "--san", "x", NULL);
    assert_int_equal(res.status, 2);
    assert_true(starts_with(res.err.data, "exportflows certs: --out DIR is required\n"));
    run_result_release(&res);

    run_args(&res, NULL, "certs", "--out", "/proc/version/x", NULL);
    assert_int_equal(res.status, 1);
    assert_true(starts_with(res.err.data, "exportflows certs: "));
    run_result_release(&res);

    unlink(crt);
    unlink(key);
    unlink(ca);
    rmdir(dir);
    snprintf(dir, sizeof dir, "%s/new", base);
    rmdir(dir);
    rmdir(base);
}

/* ---- render --------------------------------------------------------------------- */

static void
render_configmap_is_its_config(const char *config)
{
    json_t *cm = json_pack("{s:s, s:s, s:{s:s}, s:{s:s}}", "apiVersion", "v1",
                           "kind", "ConfigMap", "metadata", "name", "exportflows-config",
                           "data", "config.json", config);
    char *cm_text = json_dumps(cm, 0);
    struct run_result direct, res;

    assert_non_null(cm_text);
    run_args(&direct, config, "render", "--node-ip", "10.1.2.3", "-", NULL);
    assert_int_equal(direct.status, 0);
    run_args(&res, cm_text, "render", "--node-ip", "10.1.2.3", "-", NULL);
    assert_int_equal(res.status, 0);
    assert_string_equal(res.out.data, direct.out.data);
    run_result_release(&res);
    run_result_release(&direct);
    free(cm_text);

    json_object_del(json_object_get(cm, "data"), "config.json");
    cm_text = json_dumps(cm, 0);
    assert_non_null(cm_text);
    run_args(&res, cm_text, "render", "-", NULL);
    assert_int_equal(res.status, 1);
    assert_string_equal(res.err.data, "<stdin>: the ConfigMap has no key config.json\n");
    run_result_release(&res);
    free(cm_text);
    json_decref(cm);
}

static void
test_cli_render(void **state)
{
    static const char config[] =
        "{\"version\": 1, \"netFlow\": {\"collectors\": [\"172.30.158.150:2056\"],"
        " \"activeTimeout\": 60},"
        " \"ipfix\": {\"collectors\": [\":4739\"], \"sampling\": 64,"
        " \"cacheActiveTimeout\": 60}}";
    static const char netflow_port[] =
        "{\"netFlow\": {\"collectors\": [\":2056\"]}, \"futureKey\": true}";
    struct run_result res;
    char *json_start, *vsctl;
    json_t *params;

    run_args(&res, config, "render", "--bridge", "br-test", "--node-ip", "10.1.2.3", "-", NULL);
    assert_int_equal(res.status, 0);
    assert_true(starts_with(res.out.data, "# OVSDB transaction for bridge br-test"));
    json_start = strchr(res.out.data, '\n') + 1;
    vsctl = strstr(res.out.data, "\novs-vsctl ");
    assert_non_null(vsctl);
    assert_non_null(strstr(vsctl, "set bridge br-test netflow=@netflow"));
    assert_non_null(strstr(vsctl, "10.1.2.3:4739"));
    /* What was set is written and shown; what was not is left to OVS. */
    assert_non_null(strstr(vsctl, " sampling=64 cache_active_timeout=60 external_ids"));
    assert_null(strstr(vsctl, "obs_domain_id"));
    assert_non_null(strstr(vsctl, "\n# tuning (a key that is not set leaves the column "
                                  "to OVS):\n#   netFlow.activeTimeout = 60\n"
                                  "#   ipfix.sampling = 64\n"
                                  "#   ipfix.cacheActiveTimeout = 60\n"
                                  "#   ipfix.cacheMaxFlows: not set (OVS default, "
                                  "no limit)\n"));
    assert_null(strstr(vsctl, "sFlow."));
    params = json_loadb(json_start, (size_t) (strstr(json_start, "\n#") - json_start), 0, NULL);
    assert_non_null(params);
    assert_string_equal(json_string_value(json_array_get(params, 0)), "Open_vSwitch");
    assert_true(json_array_size(params) >= 3);
    json_decref(params);
    run_result_release(&res);

    /* ":PORT" needs --node-ip. */
    run_args(&res, config, "render", "-", NULL);
    assert_int_equal(res.status, 1);
    assert_non_null(strstr(res.err.data, "--node-ip"));
    run_result_release(&res);

    /* ":PORT" NetFlow on an IPv6 node is an error, not an IPv6 NetFlow target;
     * an unknown key is ignored with a warning. */
    run_args(&res, netflow_port, "render", "--node-ip", "fd00::7", "-", NULL);
    assert_int_equal(res.status, 1);
    assert_string_equal(res.out.data, "");
    assert_string_equal(res.err.data,
        "<stdin>: warning: ignored 1 unknown key, the first \"futureKey\" (this version "
        "reads config version 1)\n"
        "exportflows render: netFlow collector ':2056' would send to this node's "
        "IPv6 address fd00::7, and NetFlow v5 carries IPv4 only\n");
    run_result_release(&res);

    /* The ConfigMap that holds the config renders as the config itself (the
     * output of `kubectl get configmap -o json` piped in); without the key it
     * is an error. */
    render_configmap_is_its_config(config);

    /* A Network manifest is validated first. */
    run_args(&res, NULL, "render", CASES_DIR "/duplicate-netflow/network.yaml", NULL);
    assert_int_equal(res.status, 1);
    assert_non_null(strstr(res.err.data, "netFlow[2]: Duplicate value"));
    assert_string_equal(res.out.data, "");
    run_result_release(&res);

    /* A valid one renders as the publisher would publish it. */
    run_args(&res, NULL, "render", "--node-ip", "10.0.0.1",
             CASES_DIR "/valid-released/network.yaml", NULL);
    assert_int_equal(res.status, 0);
    assert_non_null(strstr(res.out.data, "'targets=[\"10.0.0.1:4739\"]' "
                                         "cache_active_timeout=60 external_ids"));
    assert_non_null(strstr(res.out.data, "#   netFlow.activeTimeout = 60\n"));
    run_result_release(&res);

    run_args(&res, NULL, "render", "--node-ip", "10.0.0.300", "x.json", NULL);
    assert_int_equal(res.status, 2);
    run_result_release(&res);
}

/* ---- help and version ----------------------------------------------------------- */

static void
check_help(const char *command, const char *usage_prefix)
{
    struct run_result res;

    if (command) {
        run_args(&res, NULL, command, "--help", NULL);
    } else {
        run_args(&res, NULL, "--help", NULL);
    }
    assert_int_equal(res.status, 0);
    if (!starts_with(res.out.data, usage_prefix)) {
        fail_msg("--help of %s: %s", command ? command : "exportflows", res.out.data);
    }
    run_result_release(&res);
    if (command) {
        run_args(&res, NULL, command, "--version", NULL);
    } else {
        run_args(&res, NULL, "--version", NULL);
    }
    assert_int_equal(res.status, 0);
    assert_true(starts_with(res.out.data, "exportflows "));
    assert_non_null(strchr(res.out.data, '\n'));
    run_result_release(&res);
}

static void
test_cli_help_and_version(void **state)
{
    check_help(NULL, "Usage: exportflows COMMAND");
    check_help("validate", "Usage: exportflows validate [--output text|json] FILE...\n");
    check_help("certs", "Usage: exportflows certs --out DIR");
    check_help("render", "Usage: exportflows render [--bridge NAME] [--node-ip IP] CONFIG\n");
}

static int
setup(void **state)
{
    const char *bin_dir = getenv("EXPORTFLOWS_BIN_DIR");

    char path[PATH_MAX];

    snprintf(path, sizeof path, "%s/exportflows", bin_dir ? bin_dir : "bin");
    if (!realpath(path, program)) {
        fprintf(stderr, "cannot find the program: %s\n", strerror(errno));
        return -1;
    }
    /* The program may exit before reading all of its standard input. */
    signal(SIGPIPE, SIG_IGN);
    /* Options can also come from the environment; keep the tests independent of it. */
    static const char *const names[] = {
        "OUTPUT", "OUT", "SERVICE", "NAMESPACE", "SAN", "DAYS", "BRIDGE", "NODE_IP",
    };

    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char name[64];

        snprintf(name, sizeof name, "EXPORTFLOWS_%s", names[i]);
        unsetenv(name);
    }
    return 0;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_data_cases),
        cmocka_unit_test(test_cli_json_output),
        cmocka_unit_test(test_cli_json_output_valid_with_warnings),
        cmocka_unit_test(test_cli_validate_json_from_stdin),
        cmocka_unit_test(test_cli_certs_writes_files),
        cmocka_unit_test(test_cli_render),
        cmocka_unit_test(test_cli_help_and_version),
    };

    return cmocka_run_group_tests(tests, setup, NULL);
}
