# Enclavr in C: the one entry point. See README.md and docs/layout.md.

CC ?= cc
PREFIX ?= /usr
SBINDIR ?= $(PREFIX)/sbin
SYSCONFDIR ?= /etc/enclavr
DATADIR ?= $(PREFIX)/share/enclavr
MANDIR ?= $(PREFIX)/share/man
UNITDIR ?= /lib/systemd/system
DESTDIR ?=
RUN_DIR ?= $(CURDIR)/run
HTTP_PORT ?= 8080
PYTHON := /usr/bin/python3

PKGS := libevent libpq hiredis libcjson libsodium inih zlib libcrypto libcurl \
	libevent_openssl libssl
CFLAGS_COMMON = -std=c17 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -g \
	-Ilibcommon -Igatewayd $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lnng -lhttp_parser -lpthread

ifeq ($(SANITIZE),1)
BUILD := build/san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
BUILD := build/rel
SANFLAGS :=
endif
CFLAGS_ALL = $(CFLAGS_COMMON) $(SANFLAGS) $(CFLAGS)
LDFLAGS_ALL = $(SANFLAGS) $(LDFLAGS)

DAEMONS := authd chatd voiced gatewayd
LIBCOMMON_SRC := $(wildcard libcommon/*.c)
GATEWAYD_SRC := $(wildcard gatewayd/*.c)
BINS := $(addprefix $(BUILD)/bin/,$(DAEMONS) enclavrctl)
UNIT_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_*.c))

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

.PHONY: all deps run up down test test-unit test-integration test-browser \
	install clean bench fuzz

all: $(BINS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(BUILD)/libcommon.a: $(call obj,$(LIBCOMMON_SRC))
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(BUILD)/bin/gatewayd: $(call obj,$(GATEWAYD_SRC)) $(BUILD)/libcommon.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBS)

define backend_rule
$(BUILD)/bin/$(1): $(call obj,$(wildcard $(1)/*.c)) $(BUILD)/libcommon.a
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS_ALL) -o $$@ $$^ $$(LIBS)
endef
# enclavrctl (the control tool) links the same way.
$(foreach d,authd chatd voiced enclavrctl,$(eval $(call backend_rule,$(d))))

# Unit tests include the file under test; they link libcommon for the rest.
$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libcommon.a
	@mkdir -p $(dir $@)
	@echo "  TEST    $@"
	@$(CC) $(CFLAGS_ALL) -Wno-unused-function -o $@ $< $(BUILD)/libcommon.a \
		$(LIBS) -lcmocka

-include $(shell find build -name '*.d' 2>/dev/null)

# Fuzz targets (libFuzzer, clang) for the parsers that see client bytes.
FUZZ_CC ?= clang
FUZZ_BUILD := build/fuzz
FUZZ_SECONDS ?= 10
FUZZ_CFLAGS = -std=c17 -D_GNU_SOURCE -g -O1 -Ilibcommon -Igatewayd \
	$(shell pkg-config --cflags $(PKGS) 2>/dev/null) -Wno-unused-function \
	-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,$(FUZZ_BUILD)/%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_DEPS_SRC := $(LIBCOMMON_SRC) $(filter-out gatewayd/gatewayd.c,$(GATEWAYD_SRC))

$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  FUZZCC  $<"
	@$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_BUILD)/libfuzzdeps.a: $(patsubst %.c,$(FUZZ_BUILD)/obj/%.o,$(FUZZ_DEPS_SRC))
	$(AR) rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_BUILD)/libfuzzdeps.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_BUILD)/libfuzzdeps.a $(LIBS)

# Runs each target for FUZZ_SECONDS from the seed corpus; a crash fails.
fuzz: $(FUZZ_TARGETS)
	@set -e; for t in $(FUZZ_TARGETS); do n=$$(basename $$t); \
	  mkdir -p $(FUZZ_BUILD)/corpus/$$n; echo "== $$n ($(FUZZ_SECONDS)s)"; \
	  if ! $$t -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
	    -artifact_prefix=$(FUZZ_BUILD)/$$n- $(FUZZ_BUILD)/corpus/$$n \
	    tests/fuzz/corpus/$$n >$(FUZZ_BUILD)/$$n.log 2>&1; then \
	    tail -n 60 $(FUZZ_BUILD)/$$n.log; exit 1; fi; \
	  grep -E "^#[0-9]+.*DONE" $(FUZZ_BUILD)/$$n.log | tail -n 1; done

deps:
	@scripts/deps.sh

run: deps all
	@scripts/stack.sh run "$(RUN_DIR)" "$(HTTP_PORT)" "$(CURDIR)/$(BUILD)/bin"

up: deps all
	@scripts/stack.sh up "$(RUN_DIR)" "$(HTTP_PORT)" "$(CURDIR)/$(BUILD)/bin"

down:
	@scripts/stack.sh down "$(RUN_DIR)"

test: deps
	$(MAKE) SANITIZE=1 all test-unit
	$(MAKE) fuzz
	$(MAKE) SANITIZE=1 test-integration
	$(MAKE) SANITIZE=1 test-browser

test-unit: $(UNIT_TESTS)
	@set -e; for t in $(UNIT_TESTS); do echo "== $$t"; $$t; done

test-integration: all
	ENCLAVR_BIN="$(CURDIR)/$(BUILD)/bin" $(PYTHON) -m pytest -q -p no:cacheprovider tests/integration

# The voice tests send media (WebRTC through the stack's coturn): they run,
# stack and browser, in a network namespace whose only interface is lo.
test-browser: all
	ENCLAVR_BIN="$(CURDIR)/$(BUILD)/bin" node --test --test-concurrency=1 \
		tests/browser/home.test.mjs tests/browser/client.test.mjs
	ENCLAVR_BIN="$(CURDIR)/$(BUILD)/bin" unshare -n sh -c \
		'ip link set lo up && exec node --test --test-concurrency=1 \
		tests/browser/voice.test.mjs tests/browser/client-voice.test.mjs'

bench: all
	bench/http/run.sh "$(CURDIR)/$(BUILD)/bin"
	bench/auth/run.sh "$(CURDIR)/$(BUILD)/bin"

.PHONY: bench-fanout
bench-fanout: all
	bench/fanout/run.sh "$(CURDIR)/$(BUILD)/bin"

.PHONY: bench-dm
bench-dm: all
	bench/dm/run.sh "$(CURDIR)/$(BUILD)/bin"

.PHONY: bench-web
bench-web: all
	bench/web/run.sh "$(CURDIR)/$(BUILD)/bin"

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(SYSCONFDIR) $(DESTDIR)$(UNITDIR) \
		$(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(DATADIR)/web
	install -m 755 $(BINS) $(DESTDIR)$(SBINDIR)/
	install -m 640 etc/*.conf $(DESTDIR)$(SYSCONFDIR)/
	install -m 644 systemd/*.service systemd/*.target $(DESTDIR)$(UNITDIR)/
	install -D -m 644 systemd/enclavr-sysusers.conf $(DESTDIR)$(PREFIX)/lib/sysusers.d/enclavr.conf
	install -D -m 644 systemd/enclavr-tmpfiles.conf $(DESTDIR)$(PREFIX)/lib/tmpfiles.d/enclavr.conf
	install -m 644 $(addsuffix .8,$(join $(addsuffix /,$(DAEMONS)),$(DAEMONS))) \
		enclavrctl/enclavrctl.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 644 $(addsuffix .conf.5,$(join $(addsuffix /,$(DAEMONS)),$(DAEMONS))) \
		$(DESTDIR)$(MANDIR)/man5/
	cp -R web/. $(DESTDIR)$(DATADIR)/web/
	for d in sql/*/; do install -d $(DESTDIR)$(DATADIR)/$$d && \
		install -m 644 $$d*.sql $(DESTDIR)$(DATADIR)/$$d; done

clean:
	rm -rf build
