# tests/soak/soak.mk: the soak (issue 12), included from the Makefile.
#
#   make soak                 build build/asan/hotspare, then tests/soak/soak.sh
#                             for SOAK_SECONDS (default 3600): a multi-stream
#                             job under ASan+UBSan, random faults inside and
#                             outside the data plane, the orchestrator on; it
#                             prints a result table and fails when a limit
#                             is not met
#   make soak-asan            only the sanitizer build
#   make soak-clean           removes build/asan
#
# The sanitizer build lives in an object directory of its own, from the
# same sources and config.h, so that the in-tree build (and its objects)
# stays what ./configure made it: a soak never leaves the tree half
# instrumented. -fno-sanitize-recover makes undefined behaviour abort
# instead of scrolling by in a log nobody reads.

SOAK_SECONDS ?= 3600
SOAK_BUILD   := build/asan
SOAK_SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
SOAK_OBJS    := $(patsubst src/%.c,$(SOAK_BUILD)/src/%.o,$(SRCS))
SOAK_HS      := $(SOAK_BUILD)/hotspare

soak-asan: $(SOAK_HS)

$(SOAK_HS): $(SOAK_OBJS)
	$(call say,LD,$@)$(CC) $(LDFLAGS) $(SOAK_SAN) -o $@ $^ $(LIBS)

$(SOAK_BUILD)/src/%.o: src/%.c config.h
	@mkdir -p $(@D)
	$(call say,CC,$@)$(CC) $(CPPFLAGS) $(CFLAGS) $(SOAK_SAN) -c -o $@ $<

# the fault proxy, the port waiter: the normal build's, they are peers
soak: $(SOAK_HS) $(TOOL_BINS)
	@SOAK_SECONDS=$(SOAK_SECONDS) HOTSPARE=$(CURDIR)/$(SOAK_HS) tests/soak/soak.sh

soak-clean:
	rm -rf $(SOAK_BUILD)

.PHONY: soak soak-asan soak-clean

-include $(SOAK_OBJS:.o=.d)
