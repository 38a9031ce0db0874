# symlora — non-recursive Makefile.
#   make            build everything into build/
#   make test       install missing Debian deps, build, run every test (unit + black-box)
#   make asan       the same tests built with AddressSanitizer + UBSan (into build/asan/)
#   make soak       [SOAK_SECONDS=180] 64 streams + uploads/deletes against the sanitizer build
#   make bench      the normal build (what `make` builds and installs) + benchmarks (build/bench.json)
#   make bench-compare  symlorad vs llama.cpp (node-llama-cpp) only; make bench-shapes: real shapes
#   make run        start symlorad on the bundled demo model
# Sources are discovered by directory: lib/ and its rooms (engine, no HTTP: common/, tokenizer/,
# model/, serving/, adapters/, template/ ...), api/ (routes), daemon/ (main), tools/*.c (one
# program each), tests/unit/test_*.c (one binary each). Every lib/ room is on the include path,
# so a header is included by its name alone.

BUILD    ?= build
PKGS     := openblas jansson libuv libmicrohttpd libpcre2-8 libutf8proc nettle
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

OPT      ?= -O2
# test, asan, soak and bench build with one job per CPU (a serial build of the three kernel
# sets, twice in CI, was minutes of it); `make -jN ...` of your own still wins.
NPROC    := $(shell nproc 2>/dev/null || echo 1)
JOBS      = $(if $(filter -j%,$(MAKEFLAGS)),,-j$(NPROC))
SAN      ?=
CFLAGS   ?=
CFLAGS   += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
            -Wno-unused-parameter -g -pthread $(OPT) $(SAN) $(PKG_CFLAGS) $(addprefix -I,$(LIB_DIRS)) -Iapi -Idaemon -MMD -MP
LDLIBS   += $(PKG_LIBS) -lm -pthread
LDFLAGS  += $(SAN)

LIB_DIRS   := $(sort $(shell find lib -type d))
LIB_SRC    := $(sort $(shell find lib -name '*.c'))
API_SRC    := $(wildcard api/*.c)
DAEMON_SRC := $(wildcard daemon/*.c)
TOOL_SRC   := $(wildcard tools/*.c)
UNIT_SRC   := $(wildcard tests/unit/test_*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
LIB_A    := $(BUILD)/libsymlora.a
API_A    := $(BUILD)/libsymlora-api.a
DAEMON   := $(if $(DAEMON_SRC),$(BUILD)/symlorad)
TOOLS    := $(patsubst tools/%.c,$(BUILD)/%,$(TOOL_SRC))
UNITS    := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))

.PHONY: all test unit asan soak bench bench-compare bench-shapes run deps clean
.SECONDARY: # keep objects built through pattern chains
all: $(LIB_A) $(DAEMON) $(TOOLS) $(UNITS)

deps:
	@tools/install-deps.sh

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

# The fixed-order kernels want `acc += x * w` as one FMA (ISO C mode turns contraction off);
# each kernel set picks its ISA itself (lib/kernels/x86/*.c), so no -march here: the binary
# runs on any x86-64 and dispatches at run time (lib/kernels/kernels.h).
$(BUILD)/obj/lib/kernels/%.o: CFLAGS += -ffp-contract=fast

# Archives are made anew (rm first): `ar r` would keep members of sources moved or deleted.
$(LIB_A): $(call obj,$(LIB_SRC))
	@mkdir -p $(dir $@)
	@rm -f $@
	$(AR) rcs $@ $^

$(API_A): $(call obj,$(API_SRC)) | $(LIB_A)
	@mkdir -p $(dir $@)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/symlorad: $(call obj,$(DAEMON_SRC)) $(API_A) $(LIB_A)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/%: $(BUILD)/obj/tools/%.o $(LIB_A)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(API_A) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The one test command of the README.
test: deps
	@$(MAKE) --no-print-directory $(JOBS) all
	@tests/run.sh $(BUILD)

ASAN_MAKE = $(MAKE) --no-print-directory BUILD=build/asan OPT=-O1 \
	    SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"

asan: deps
	@$(ASAN_MAKE) $(JOBS) all
	@SL_SANITIZED=1 tests/run.sh build/asan

# The soak of tests/soak/soak.py under the sanitizers; ends with "N passed, N failed".
SOAK_SECONDS ?= 180
soak: deps
	@$(ASAN_MAKE) $(JOBS) all
	@SL_BUILD=build/asan SL_SANITIZED=1 python3 tests/soak/soak.py --seconds $(SOAK_SECONDS)

# The figures are those of the binary users run: the same flags as `make`, no -march=native
# (the kernels choose their ISA at run time, lib/kernels/kernels.h).
bench: deps
	@$(MAKE) --no-print-directory $(JOBS) BUILD=build/bench all
	@tools/bench.sh build/bench
	@python3 tools/bench_report.py --json "$${SL_BENCH_JSON:-build/bench.json}" --kernels "$$(build/bench/symlorad --version 2>&1 | tr '\n' ' ')"
	@if [ "$${SL_BENCH_COMPARE:-1}" != 0 ]; then tools/bench_compare.sh build/bench; fi
	@if [ "$${SL_BENCH_SHAPES:-1}" != 0 ]; then tools/bench_shapes.sh build/bench; fi

# Parts of `make bench` alone, on the normal build (what `make` builds): symlorad against
# llama.cpp (node-llama-cpp from npm, installed under $(BUILD)/llamacpp), and real model shapes.
bench-compare: deps all
	@tools/bench_compare.sh $(BUILD)

bench-shapes: deps all
	@tools/bench_shapes.sh $(BUILD)

# The demo model has random weights and no chat template of its own: chat uses Llama 3's.
run: deps all
	$(BUILD)/symlorad --model tests/fixtures/models/llama-tiny --store var/store --listen 127.0.0.1:8080 \
	    --chat-template tests/fixtures/chat/templates/meta-llama-Llama-3.1-8B-Instruct.jinja \
	    $(foreach a,$(notdir $(wildcard tests/fixtures/adapters/llama-tiny/*)),--adapter $(a)=tests/fixtures/adapters/llama-tiny/$(a))

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
include tests/fuzz/fuzz.mk
include install.mk
