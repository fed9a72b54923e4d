# vectoraiz build. `make` builds ./vectoraiz; `make test` installs what is
# missing (scripts/setup.sh), starts throwaway PostgreSQL and MariaDB servers
# and runs every test; `make demo` runs the product on sample databases.

CC      ?= cc
CXX     ?= c++
PKGS    := libpq libmariadb libmicrohttpd jansson sqlite3 libcrypto libcurl
DEPS    := $(CURDIR)/deps
BUILD   ?= build
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS   ?= -O2 -g
# The language and warning flags stay when a caller sets CFLAGS (make asan).
override CFLAGS += -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
            -Wno-missing-field-initializers -D_GNU_SOURCE -fno-strict-aliasing
CPPFLAGS += -Isrc -isystem $(DEPS)/include -isystem $(DEPS)/llama/include \
            -I/usr/include/pg_query $(PKG_CFLAGS) \
            -DVZ_VERSION='"$(VERSION)"'
LDLIBS   += $(PKG_LIBS) -lpg_query -L$(DEPS)/lib -lduckdb -Wl,-rpath,$(DEPS)/lib \
            -ldl -lpthread -lm

SRC      := $(shell find src -name '*.c' ! -name main.c | sort)
OBJ      := $(SRC:%.c=$(BUILD)/%.o)
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

# `make V=1` shows full commands.
Q := $(if $(V),,@)

.PHONY: all test unit e2e asan lint fmt demo clean setup deps testdb-start testdb-stop

all: vectoraiz

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/libvz.a: $(OBJ)
	@rm -f $@
	$(Q)ar rcs $@ $^

$(BUILD)/vectoraiz: $(BUILD)/src/main.o $(BUILD)/libvz.a
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

vectoraiz: $(BUILD)/vectoraiz
	$(Q)cp -f $< $@.tmp && mv -f $@.tmp $@

$(BUILD)/tests/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(BUILD)/libvz.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  TEST    $@")
	$(Q)$(CC) $(CPPFLAGS) -Itests/unit $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libvz.a \
	    $(LDLIBS) -lcmocka

unit-build: $(UNIT_BIN)

# Unit tests only (no servers needed beyond what a test starts itself).
unit: $(UNIT_BIN) vectoraiz
	@scripts/run-unit.sh $(UNIT_BIN)

# Everything: setup, servers, unit and end-to-end tests.
test:
	@scripts/setup.sh
	@$(MAKE) --no-print-directory all unit-build
	@scripts/run-tests.sh

# ASan + UBSan build in its own folder, then the unit tests under it.
asan:
	@$(MAKE) --no-print-directory BUILD=build-asan \
	    CFLAGS='-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all' \
	    LDFLAGS='-fsanitize=address,undefined' unit-build build-asan/vectoraiz
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	    VZ_BIN=$(CURDIR)/build-asan/vectoraiz scripts/run-unit.sh $(patsubst $(BUILD)/%,build-asan/%,$(UNIT_BIN))

FMT_FILES = $(shell find src tests/unit -name '*.[ch]' | sort)
lint:
	clang-format --dry-run --Werror $(FMT_FILES)
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	    --inline-suppr --suppress=missingIncludeSystem --std=c11 -Isrc \
	    --include=/usr/include/jansson.h $(SRC) src/main.c

fmt:
	clang-format -i $(FMT_FILES)

demo:
	@scripts/setup.sh
	@$(MAKE) --no-print-directory all
	@scripts/demo.sh

setup deps:
	@scripts/setup.sh

testdb-start:
	@scripts/testdb.sh start
testdb-stop:
	@scripts/testdb.sh stop

clean:
	rm -rf build build-asan build-fuzz vectoraiz

-include $(OBJ:.o=.d) $(BUILD)/src/main.d

# libFuzzer targets (clang); FUZZ_SECONDS per target.
# Every tests/fuzz/fuzz_X.c becomes build-fuzz/fuzz_X, linked against the
# sources compiled again with clang and the sanitizers, and runs on a scratch
# copy of tests/fuzz/corpus/X (new inputs land in the copy, not the repo).
# Any crash, leak, UBSan report or timeout fails the target; the input that
# caused it is left in build-fuzz/ as crash-*/leak-*/timeout-*.
FUZZ_SECONDS ?= 300
FUZZ_CC      ?= clang
FUZZ_BUILD   := build-fuzz
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS  := -O1 -g $(filter-out -O% -g -Werror,$(CFLAGS)) $(FUZZ_SAN)
FUZZ_LIB_SRC ?= $(SRC)
FUZZ_OBJ     := $(FUZZ_LIB_SRC:%.c=$(FUZZ_BUILD)/%.o)
FUZZ_SRC     := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BIN     := $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_BUILD)/%)

$(FUZZ_BUILD)/src/%.o: src/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  FUZZCC  $<")
	$(Q)$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

$(FUZZ_BUILD)/libvz.a: $(FUZZ_OBJ)
	@rm -f $@
	$(Q)ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_BUILD)/libvz.a
	@$(if $(Q),echo "  FUZZLD  $@")
	$(Q)$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_BUILD)/libvz.a \
	    $(LDLIBS)

.PHONY: fuzz
fuzz: $(FUZZ_BIN)
	@set -e; for bin in $(FUZZ_BIN); do \
	    name=$${bin##*/fuzz_}; work=$(FUZZ_BUILD)/corpus/$$name; \
	    rm -rf $$work; mkdir -p $$work; \
	    if [ -d tests/fuzz/corpus/$$name ]; then cp -R tests/fuzz/corpus/$$name/. $$work/; fi; \
	    echo "  FUZZ    $$bin for $(FUZZ_SECONDS)s"; \
	    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    $$bin -max_total_time=$(FUZZ_SECONDS) -timeout=10 -print_final_stats=1 \
	        -artifact_prefix=$(FUZZ_BUILD)/ $$work; \
	done

-include $(FUZZ_OBJ:.o=.d)

# Web UI, compiled in: every file of web/ plus the SQL highlighter that
# scripts/setup-web.sh vendors into deps/web-vendor/ become one const table
# in $(BUILD)/gen/assets.c (scripts/embed-assets.sh), archived into libvz.a
# beside the other objects; src/http/static.c serves it.
WEB_FILES  := $(sort $(wildcard web/*))
WEB_VENDOR := $(DEPS)/web-vendor/hljs-core.min.js $(DEPS)/web-vendor/hljs-sql.min.js \
              $(DEPS)/web-vendor/hljs-LICENSE.txt
WEB_OBJ    := $(BUILD)/gen/assets.o

$(BUILD)/libvz.a: $(WEB_OBJ)

$(BUILD)/gen/assets.c: scripts/embed-assets.sh $(WEB_FILES) $(WEB_VENDOR)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  EMBED   $@")
	$(Q)scripts/embed-assets.sh $@ $(WEB_FILES) $(WEB_VENDOR)

$(WEB_OBJ): $(BUILD)/gen/assets.c src/http/static.h
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(WEB_VENDOR):
	@echo "missing $@: run scripts/setup-web.sh (scripts/setup.sh runs it)" >&2
	@exit 1
