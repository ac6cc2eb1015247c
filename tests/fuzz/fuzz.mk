# tests/fuzz/fuzz.mk: the fuzz targets, tests/fuzz/fuzz_NAME.c, each with
# its corpus in tests/fuzz/corpus/NAME/ (fuzz.h). Included by the Makefile.
#
#   make fuzz          clang, libFuzzer, ASan and UBSan: build/fuzz/fuzz_NAME
#   make fuzz-run      each target FUZZ_SECONDS (120) on its corpus, under
#                      nice; a table of executions, coverage and crashes
#                      (FUZZ_TARGETS="job model" for some of them)
#   make fuzz-merge    what the campaigns found (build/fuzz/corpus/NAME),
#                      minimised into the committed corpus (-merge=1)
#   make check         tests/fuzz/replay_NAME (gcc, the normal library)
#                      replays the committed corpus: t_fuzz_corpus
#
# The instrumented library is built apart, in build/fuzz/src/: the normal
# build is gcc's, in the tree, and the two kinds of objects never mix.

FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 120
FUZZ_DIR     := build/fuzz
FUZZ_SRCS    := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_NAMES   := $(FUZZ_SRCS:tests/fuzz/fuzz_%.c=%)
FUZZ_TARGETS ?= $(FUZZ_NAMES)
FUZZ_BINS    := $(FUZZ_NAMES:%=$(FUZZ_DIR)/fuzz_%)
FUZZ_REPLAYS := $(FUZZ_NAMES:%=tests/fuzz/replay_%)

# configure's sanitizer and optimisation flags give way to the fuzzer's:
# -O1 keeps the stacks of reports readable and runs nearly as fast as -O2
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS  := $(filter-out -fsanitize=% -fno-sanitize-recover=% -O% -g,$(CFLAGS)) -O1 -g $(FUZZ_SAN)
FUZZ_LDFLAGS := $(filter-out -fsanitize=%,$(LDFLAGS))
FUZZ_LIB_OBJS := $(LIB_OBJS:src/%.o=$(FUZZ_DIR)/src/%.o)
FUZZ_LIB     := $(FUZZ_DIR)/libhotspare.a

fuzz: $(FUZZ_BINS)
ifeq ($(HAVE_FUZZ),no)
	$(error make fuzz needs clang with libFuzzer (./configure --install-deps installs it))
endif

$(FUZZ_DIR)/src/%.o: src/%.c config.h
	@mkdir -p $(@D)
	$(call say,CLANG,$@)$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_LIB): $(FUZZ_LIB_OBJS)
	$(call say,AR,$@)rm -f $@ && $(AR) rcs $@ $^

$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(FUZZ_LIB) config.h
	$(call say,CLANG,$@)$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< \
	    $(FUZZ_LIB) $(FUZZ_LDFLAGS) $(LIBS)

# the replays: the same targets, gcc, a main() that reads files
tests/fuzz/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c tests/fuzz/fuzz.h $(LIB) config.h
	$(call say,CC,$@)$(CC) $(filter-out -MMD -MP,$(CPPFLAGS)) $(CFLAGS) -o $@ $< tests/fuzz/replay.c \
	    $(LIB) $(LDFLAGS) $(LIBS)

testprogs: $(FUZZ_REPLAYS)

fuzz-run: $(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz_%)
	@FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh $(FUZZ_TARGETS)

# edges only (-use_counters=0), not how often each runs: a corpus of tens
# or hundreds of files a target instead of a thousand, for make check
fuzz-merge: $(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz_%)
	@for t in $(FUZZ_TARGETS); do \
	  [ -d $(FUZZ_DIR)/corpus/$$t ] || continue; \
	  nice $(FUZZ_DIR)/fuzz_$$t -merge=1 -use_counters=0 tests/fuzz/corpus/$$t \
	    $(FUZZ_DIR)/corpus/$$t 2>&1 | \
	    grep -E '^MERGE-OUTER: [0-9]+ new files' | sed "s/^/$$t: /"; \
	done

fuzz-clean:
	rm -rf $(FUZZ_DIR) $(FUZZ_REPLAYS)

clean: fuzz-clean

.PHONY: fuzz fuzz-run fuzz-merge fuzz-clean

-include $(FUZZ_LIB_OBJS:.o=.d) $(FUZZ_BINS:=.d)
