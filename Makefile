# hotspare Makefile. Run ./configure first; it writes config.mak.
#
#   make            build ./hotspare
#   make check      build, then unit tests (CUnit) and integration tests
#   make run        run samples/quickstart.yaml (output under ./out)
#   make bench      benchmarks against ffmpeg on the same work
#   make model      record the corpus and train models/default.hsm
#   make install    PREFIX/DESTDIR honoured
#   make clean

ifeq ($(wildcard config.mak),)
$(error config.mak not found: run ./configure first (./configure --install-deps on a fresh machine))
endif
include config.mak

.DEFAULT_GOAL := all
.SECONDEXPANSION:
.DELETE_ON_ERROR:

SRCS      := $(wildcard src/*/*.c)
MAIN_OBJ  := src/cli/main.o
LIB_OBJS  := $(filter-out $(MAIN_OBJ),$(SRCS:.c=.o))
LIB       := src/libhotspare.a

# Unit tests: tests/unit/NAME_test.c, one CUnit program each, linked against
# the static library so that a test may #include the .c it tests.
UNIT_SRCS := $(wildcard tests/unit/*_test.c)
UNIT_BINS := $(UNIT_SRCS:.c=)
# Helper programs the tests start (fault proxy, probes): tests/tools/NAME.c.
TOOL_SRCS := $(wildcard tests/tools/*.c)
TOOL_BINS := $(TOOL_SRCS:.c=)
# Stub shared libraries the tests load instead of the real one (NVML):
# tests/stubs/NAME.c -> tests/stubs/NAME.so
STUB_SRCS := $(wildcard tests/stubs/*.c)
STUB_LIBS := $(STUB_SRCS:.c=.so)
# Benchmark programs: tests/bench/NAME.c
BENCH_SRCS := $(wildcard tests/bench/*.c)
BENCH_BINS := $(BENCH_SRCS:.c=)

CPPFLAGS  += -I. -Isrc -MMD -MP

# make V=1 shows the commands
ifeq ($(V),1)
Q :=
say :=
else
Q := @
say = @printf '  %-6s %s\n' $(1) $(2);
endif

all: hotspare

hotspare: $(MAIN_OBJ) $(LIB)
	$(call say,LD,$@)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(LIB): $(LIB_OBJS)
	$(call say,AR,$@)rm -f $@ && $(AR) rcs $@ $^

src/%.o: src/%.c config.h
	$(call say,CC,$@)$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

tests/unit/%_test: tests/unit/%_test.c $(LIB) config.h
	$(call say,CC,$@)$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(LIB) $(LDFLAGS) $(LIBS) $(CUNIT_LIBS)

tests/tools/%: tests/tools/%.c $(LIB) config.h
	$(call say,CC,$@)$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(LIB) $(LDFLAGS) $(LIBS)

tests/stubs/%.so: tests/stubs/%.c
	$(call say,CC,$@)$(CC) $(CPPFLAGS) $(CFLAGS) -fPIC -shared -o $@ $<

tests/bench/%: tests/bench/%.c $(LIB) config.h
	$(call say,CC,$@)$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(LIB) $(LDFLAGS) $(LIBS)

config.h:
	$(error config.h missing: run ./configure)

ifeq ($(HAVE_CUNIT),yes)
UNIT_TARGETS := $(UNIT_BINS)
else
UNIT_TARGETS :=
endif

testprogs: hotspare $(UNIT_TARGETS) $(TOOL_BINS) $(STUB_LIBS)

# T= narrows the run: make check T=hls  (integration tests whose name matches)
check: testprogs check-layers check-card browser-deps
	@tests/run-all.sh $(if $(T),--only '$(T)')

# the model card shows the shipped model's evaluation, as hotspare eval printed it
check-card:
	@models/corpus/card.sh --check && echo "check-card: models/README.md shows models/default.eval.txt"

# A folder of src/ includes only folders below it (ARCHITECTURE.md):
# core < job < plane < ecg < hma < hds < pfm < dra < fo < cli.
check-layers:
	@tests/check-layers.sh

check-unit: testprogs
	@tests/run-all.sh --unit-only

check-integration: testprogs browser-deps
	@tests/run-all.sh --integration-only $(if $(T),--only '$(T)')

# The browser tests' players and driver (tests/browser/package-lock.json,
# pinned): npm ci, again when the lock file changes; node_modules is not in
# git. Never downloads a browser (Debian's chromium). Without npm, or
# offline, the browser tests skip and say why.
BROWSER_STAMP := tests/browser/node_modules/.package-lock.json
browser-deps: $(BROWSER_STAMP)
$(BROWSER_STAMP): tests/browser/package-lock.json tests/browser/package.json
	$(call say,NPM,tests/browser)if command -v npm >/dev/null 2>&1; then \
	  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error || \
	  echo "npm ci --prefix tests/browser failed: the browser tests will skip"; \
	else echo "no npm: the browser tests will skip (./configure --install-deps)"; fi

run: hotspare
	./hotspare run samples/quickstart.yaml

bench: hotspare $(BENCH_BINS) $(TOOL_BINS)
	@tests/bench/run.sh

# the default failure model: records the corpus when absent (about 20 min of
# real time), trains models/default.hsm, evaluates it on a held-out job
model: hotspare
	@models/corpus/run.sh

install: hotspare
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(DATADIR)/filters $(DESTDIR)$(DATADIR)/models
	install -m 755 hotspare $(DESTDIR)$(BINDIR)/hotspare
	install -m 644 filters/*.graph $(DESTDIR)$(DATADIR)/filters/
	install -m 644 models/README.md $(DESTDIR)$(DATADIR)/models/
	for f in models/*.hsm; do [ -e "$$f" ] || continue; install -m 644 "$$f" $(DESTDIR)$(DATADIR)/models/; done

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/hotspare
	rm -rf $(DESTDIR)$(DATADIR)

clean:
	rm -f hotspare src/*/*.o src/*/*.d $(LIB) $(UNIT_BINS) $(TOOL_BINS) $(STUB_LIBS) $(BENCH_BINS) tests/unit/*.d tests/tools/*.d tests/stubs/*.d tests/bench/*.d
	rm -rf tests/out

distclean: clean
	rm -f config.mak config.h config.log

.PHONY: all check check-layers check-card check-unit check-integration testprogs browser-deps run bench model install uninstall clean distclean

include tests/fuzz/fuzz.mk
include tests/soak/soak.mk

-include $(SRCS:.c=.d) $(UNIT_SRCS:.c=.d) $(TOOL_SRCS:.c=.d) $(STUB_SRCS:.c=.d) $(BENCH_SRCS:.c=.d)
