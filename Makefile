# exportflows — plain Makefile.
#
#   make                      build every program of cmd/ into bin/
#   make test                 install missing packages (as root), build, then run every
#                             test (unit, integration, system)
#   make SANITIZE=address,undefined
#                             build into build/san/ with the sanitizers and run the tests
#   make run                  install missing packages (as root), make dev certificates,
#                             start the webhook on https://127.0.0.1:8443
#   make TESTS=unit test      run only the tests whose path contains "unit"
#   make fuzz                 build the libFuzzer targets of tests/fuzz/ with clang into
#                             build/fuzz/ and run each for FUZZ_SECONDS (60); choose
#                             some with FUZZ_TARGETS="fuzz_collector fuzz_manifest"
#   make image                the container image exportflows:latest (IMAGE=name:tag)
#
# Layout the rules rely on (add files, not rules):
#   src/SUBSYSTEM/*.c         the library, one module per .c/.h pair, one folder per
#                             subsystem (base admission kube ovs http); public headers in
#                             include/exportflows/SUBSYSTEM/, private ones beside the .c
#   cmd/NAME/*.c              program NAME
#   tests/unit/SUBSYSTEM/test_*.c  cmocka tests, test_<module>.c, one for every module
#   tests/integration/test_*.c  cmocka tests that run real programs
#   tests/lib/*.c             helpers linked into every test
#   tests/system/*.sh         scripts that drive real components (OVS, collectors, ...);
#                             lib-*.sh there are sourced helpers
#   tests/fuzz/fuzz_*.c       libFuzzer targets, one per parser of outside input

PKGS      := libmicrohttpd gnutls jansson libcurl openssl yaml-0.1
TEST_PKGS := cmocka

CC      ?= cc
STD     := -std=c11 -D_GNU_SOURCE
WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wformat=2 -Wvla -Wpointer-arith -Wundef -Wno-unused-parameter \
           -Werror
OPT     ?= -O2 -g
DEPFLAGS = -MMD -MP

ifeq ($(SANITIZE),)
  OUT     := build
  BIN     := bin
else
  OUT     := build/san
  BIN     := build/san/bin
  OPT     := -O1 -g -fno-omit-frame-pointer -fsanitize=$(SANITIZE) -fno-sanitize-recover=all
endif

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
TEST_LIBS  := $(shell pkg-config --libs $(TEST_PKGS) 2>/dev/null)

VERSION := $(shell git describe --always --dirty 2>/dev/null || echo unknown)

CPPFLAGS += -Iinclude -DEXPORTFLOWS_VERSION='"$(VERSION)"'
ALL_CFLAGS = $(STD) $(WARN) $(OPT) $(DEPFLAGS) $(PKG_CFLAGS) $(CPPFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(OPT) $(LDFLAGS)

LIB_SRC  := $(sort $(wildcard src/*/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(OUT)/%.o)
LIB      := $(OUT)/libexportflows.a

PROGRAMS := $(sort $(notdir $(wildcard cmd/*)))
PROG_BIN := $(PROGRAMS:%=$(BIN)/%)

TESTLIB_SRC := $(sort $(wildcard tests/lib/*.c))
TESTLIB_OBJ := $(TESTLIB_SRC:%.c=$(OUT)/%.o)
TEST_SRC    := $(sort $(wildcard tests/unit/*/test_*.c tests/integration/test_*.c))
TEST_BIN    := $(TEST_SRC:%.c=$(OUT)/%)
# Scripts named lib-*.sh are sourced by the others, not run.
SYSTEM_TESTS := $(filter-out tests/system/lib-%,$(sort $(wildcard tests/system/*.sh)))

ifeq ($(SANITIZE),)
all: programs
else
all: test
endif

programs: $(PROG_BIN)

$(OUT)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

# Each program links the objects of its own directory and the library.
.SECONDEXPANSION:
$(BIN)/%: $$(addprefix $(OUT)/,$$(subst .c,.o,$$(wildcard cmd/$$*/*.c))) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm

$(OUT)/tests/%: $(OUT)/tests/%.o $(TESTLIB_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) $(TEST_LIBS) -lm -lpthread

tests: $(TEST_BIN)

# etcd, kube-apiserver and kubectl from their pinned Go modules, built once into
# /var/cache/exportflows (about 7 minutes on 2 cores), then reused.
fixtures:
	@tests/k8s/build-fixtures.sh >/dev/null

# `make test` installs what is missing first (as root; otherwise it names the
# packages and stops), then builds in a second make, which reads pkg-config's
# flags afresh now that the libraries are there.
test: test-deps
	$(MAKE) programs tests fixtures
	EXPORTFLOWS_BIN_DIR=$(abspath $(BIN)) EXPORTFLOWS_BUILD_DIR=$(abspath $(OUT)) \
	    tests/run $(TEST_BIN) $(SYSTEM_TESTS) -- $(TESTS)

# `make run`: everything a fresh machine needs to try the webhook.
run: deps
	$(MAKE) programs
	@test -f certs/dev/tls.crt || $(BIN)/exportflows certs --out certs/dev --san 127.0.0.1 --san localhost
	@echo 'try it:  curl --cacert certs/dev/ca.crt -H "Content-Type: application/json" --data @tests/data/admission/allowed-proposal/request.json https://127.0.0.1:8443/validate'
	$(BIN)/exportflows-webhook --tls-cert-file certs/dev/tls.crt --tls-private-key-file certs/dev/tls.key \
	    --listen 127.0.0.1:8443 --health-listen 127.0.0.1:8081 --no-publish

# `make image`: the container image $(IMAGE), FROM scratch, from the programs and
# the libraries they load on this machine (.ci/build-image, with buildah).
IMAGE ?= exportflows:latest
image:
	@.ci/install-packages build image
	$(MAKE) programs
	.ci/build-image --tag $(IMAGE) --bin $(BIN)

deps:
	@.ci/install-packages build

# `make fuzz`: every target of tests/fuzz/ built with clang, the library with
# -fsanitize=fuzzer-no-link,address,undefined, then run by tests/fuzz/run.sh for
# FUZZ_SECONDS each on seeds made from tests/data/.  Any crash, leak, sanitizer
# report or failed check fails the make, with the reproducer's path.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_OUT     := build/fuzz
FUZZ_SRC     := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_ALL     := $(notdir $(FUZZ_SRC:.c=))
FUZZ_TARGETS ?= $(FUZZ_ALL)
# "collector" and "fuzz_collector" both name tests/fuzz/fuzz_collector.c.
FUZZ_NAMES   := $(patsubst fuzz_fuzz_%,fuzz_%,$(addprefix fuzz_,$(FUZZ_TARGETS)))
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS   = $(STD) $(WARN) -O1 -g -fno-omit-frame-pointer $(FUZZ_SAN) $(DEPFLAGS) \
                $(PKG_CFLAGS) $(CPPFLAGS) -Itests/lib $(CFLAGS)
FUZZ_LIB     := $(FUZZ_OUT)/libexportflows.a
FUZZ_TESTLIB := $(FUZZ_OUT)/libtestlib.a

$(FUZZ_OUT)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_LIB): $(LIB_SRC:%.c=$(FUZZ_OUT)/obj/%.o)
	rm -f $@
	$(AR) rcs $@ $^

$(FUZZ_TESTLIB): $(TESTLIB_SRC:%.c=$(FUZZ_OUT)/obj/%.o)
	rm -f $@
	$(AR) rcs $@ $^

$(FUZZ_OUT)/fuzz_%: $(FUZZ_OUT)/obj/tests/fuzz/fuzz_%.o $(FUZZ_TESTLIB) $(FUZZ_LIB)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -g -o $@ $^ $(PKG_LIBS) -lm -lpthread

fuzz-programs: $(addprefix $(FUZZ_OUT)/,$(FUZZ_NAMES))

fuzz: fuzz-deps
	$(MAKE) fuzz-programs
	tests/fuzz/run.sh $(FUZZ_OUT) $(FUZZ_SECONDS) $(FUZZ_NAMES)

fuzz-deps:
	@.ci/install-packages build fuzz
test-deps:
	@.ci/install-packages build test

clean:
	rm -rf build bin

.PHONY: all programs tests fixtures test run image deps test-deps clean fuzz fuzz-programs fuzz-deps
.SECONDARY:

-include $(shell find $(OUT) -name '*.d' 2>/dev/null)
