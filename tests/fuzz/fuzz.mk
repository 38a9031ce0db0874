# tests/fuzz/fuzz.mk — libFuzzer targets for the engine parsers and the HTTP request bodies;
# included by the Makefile.
#
#   make fuzz [FUZZ_SECONDS=60] [FUZZ_TARGETS="safetensors adapter"] [FUZZ_JOBS=1]
#       build every target and run each for FUZZ_SECONDS with its corpus and dictionary;
#       exits non-zero on any crash, leak, UBSan report, timeout or out-of-memory.
#   make fuzz-ci       all targets for about FUZZ_CI_SECONDS (60) in all: the CI gate.
#   make fuzz-build    only build them (build/fuzz/fuzz_<target>).
# Targets: tests/fuzz/fuzz_<target>.c; seeds in tests/fuzz/corpus/<target>/, dictionaries in
# tests/fuzz/dict/<target>.dict, per-target libFuzzer options in tests/fuzz/run.sh, known
# crash reproducers in tests/fuzz/crashes/<target>-<n> (replayed first by run.sh).
#
# Objects are built here with clang's fuzzer, address and undefined sanitizers, from exactly
# the lib/*.c sources each target needs, into FUZZ_DIR (not shared with the normal build).

FUZZ_CC         ?= clang
FUZZ_DIR        ?= build/fuzz
FUZZ_SECONDS    ?= 60
FUZZ_CI_SECONDS ?= 60
FUZZ_JOBS       ?= 1

# pkg-config flags of the Makefile's PKGS (computed there once), or our own when used alone.
FUZZ_PKGS       := jansson libpcre2-8 libutf8proc libmicrohttpd
FUZZ_PKG_CFLAGS := $(if $(PKGS),$(PKG_CFLAGS),$(shell pkg-config --cflags $(FUZZ_PKGS) 2>/dev/null))
FUZZ_PKG_LIBS   := $(if $(PKGS),$(PKG_LIBS),$(shell pkg-config --libs $(FUZZ_PKGS) 2>/dev/null))
FUZZ_SAN    := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -pthread -Wall -Wextra -Wno-unused-parameter \
               $(FUZZ_SAN) -fsanitize=fuzzer-no-link $(FUZZ_PKG_CFLAGS) \
               $(addprefix -I,$(sort $(shell find lib -type d))) -Iapi -MMD -MP
FUZZ_LDFLAGS := $(FUZZ_SAN) -fsanitize=fuzzer -pthread -Wl,--as-needed # only the libraries used
FUZZ_LDLIBS  := $(FUZZ_PKG_LIBS) -lm

# The lib/ sources of each target (only these are compiled for it).
FUZZ_SRC_safetensors      := lib/common/safetensors.c lib/common/error.c
# The kernels read bigalloc.c's page-walk probe (sl_prefetch_walks_pages: the GEMM's prefetch hints).
FUZZ_SRC_kernels          := $(sort $(shell find lib/kernels -name '*.c')) lib/common/bigalloc.c
FUZZ_SRC_model_config     := lib/model/model.c $(FUZZ_SRC_kernels) lib/common/safetensors.c lib/common/error.c
FUZZ_SRC_adapter          := lib/adapters/adapter.c lib/model/model.c $(FUZZ_SRC_kernels) lib/common/safetensors.c lib/common/error.c
FUZZ_SRC_adapter_patterns := $(FUZZ_SRC_adapter)
FUZZ_SRC_tokenizer_load   := $(sort $(wildcard lib/tokenizer/*.c)) lib/common/buf.c lib/common/error.c
FUZZ_SRC_tokenizer_encode := $(FUZZ_SRC_tokenizer_load)
# The Jinja engine: parser and renderer of chat templates.
FUZZ_SRC_template         := $(sort $(wildcard lib/template/jinja*.c)) lib/common/error.c
# The HTTP side: api/request.c (request bodies and upload parts, parsed without a connection).
FUZZ_SRC_http_request     := $(sort api/request.c api/prompt.c api/structured.c api/tools.c $(wildcard lib/constraint/*.c) \
                             lib/template/chat.c $(FUZZ_SRC_template) lib/toolcall/toolcall.c $(FUZZ_SRC_tokenizer_load))
FUZZ_SRC_http_multipart   := $(FUZZ_SRC_http_request) # + libmicrohttpd's PostProcessor
FUZZ_SRC_toolcall         := lib/toolcall/toolcall.c lib/common/buf.c lib/common/error.c
# Structured outputs: each compiler of lib/constraint, then its matcher over the fixture vocabulary.
FUZZ_SRC_schema           := $(sort $(wildcard lib/constraint/*.c)) $(FUZZ_SRC_tokenizer_load)
FUZZ_SRC_regex            := $(FUZZ_SRC_schema)
FUZZ_SRC_gbnf             := $(FUZZ_SRC_schema)

FUZZ_ALL_TARGETS := safetensors model_config adapter adapter_patterns \
                    $(if $(wildcard lib/tokenizer/tokenizer.c),tokenizer_load tokenizer_encode) \
                    $(if $(wildcard api/request.c),http_request http_multipart) toolcall template \
                    $(if $(wildcard lib/constraint/matcher.c),schema regex gbnf)
FUZZ_TARGETS     ?= $(FUZZ_ALL_TARGETS)

fuzz_obj = $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(1))
FUZZ_BINS     := $(patsubst %,$(FUZZ_DIR)/fuzz_%,$(FUZZ_ALL_TARGETS))
FUZZ_LIB_OBJS := $(call fuzz_obj,$(sort $(foreach t,$(FUZZ_ALL_TARGETS),$(FUZZ_SRC_$(t)))))
FUZZ_MAIN_OBJS := $(call fuzz_obj,$(patsubst %,tests/fuzz/fuzz_%.c,$(FUZZ_ALL_TARGETS)))

.PHONY: fuzz fuzz-ci fuzz-build fuzz-build-jobs
fuzz-build: $(FUZZ_BINS)
# The same, one compile per CPU (the Makefile's JOBS).
fuzz-build-jobs:
	@$(MAKE) --no-print-directory $(JOBS) fuzz-build
# The Makefile's deps (tools/install-deps.sh: clang, libclang-rt, the -dev packages) first;
# a quick no-op when everything is installed.
$(FUZZ_LIB_OBJS) $(FUZZ_MAIN_OBJS): | $(if $(wildcard tools/install-deps.sh),deps)

fuzz: fuzz-build-jobs
	@FUZZ_JOBS=$(FUZZ_JOBS) tests/fuzz/run.sh --dir $(FUZZ_DIR) --seconds $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-ci: fuzz-build-jobs
	@tests/fuzz/run.sh --dir $(FUZZ_DIR) --total-seconds $(FUZZ_CI_SECONDS) $(FUZZ_ALL_TARGETS)

$(FUZZ_LIB_OBJS): $(FUZZ_DIR)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@

# The SIMD kernel sets (lib/kernels/x86, lib/kernels/generic) are linked in for their table, but
# no target runs a forward pass, so none reaches their arithmetic; instrumented, they were most
# of the build (clang: 3 minutes for avx512.c alone on CI's 2 cores). Built without sanitizers
# or coverage; make asan (GCC) checks them under every set.
FUZZ_PLAIN_OBJS := $(call fuzz_obj,$(sort $(wildcard lib/kernels/x86/*.c lib/kernels/generic/*.c)))
$(FUZZ_PLAIN_OBJS): FUZZ_CFLAGS := $(filter-out $(FUZZ_SAN) -fsanitize=fuzzer-no-link -O1,$(FUZZ_CFLAGS)) -O2 -ffp-contract=fast

$(FUZZ_MAIN_OBJS): $(FUZZ_DIR)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Werror -DSL_FUZZ_FIXTURES_DIR='"$(abspath tests/fixtures)"' -c $< -o $@

define FUZZ_LINK_RULE
$(FUZZ_DIR)/fuzz_$(1): $(call fuzz_obj,tests/fuzz/fuzz_$(1).c $(FUZZ_SRC_$(1)))
	$$(FUZZ_CC) $$(FUZZ_LDFLAGS) -o $$@ $$^ $$(FUZZ_LDLIBS)
endef
$(foreach t,$(FUZZ_ALL_TARGETS),$(eval $(call FUZZ_LINK_RULE,$(t))))

-include $(shell find $(FUZZ_DIR)/obj -name '*.d' 2>/dev/null)
