# StreamFlow: a thin Makefile over meson. Build trees:
#   build/        debugoptimized, asserts on: the daemon for `make run`, all test suites
#   build-san/    ASan+UBSan build of the unit tests (part of `make test`)
#   build-bench/  release, NDEBUG: what `make bench` measures
MESON      ?= meson
BUILD      ?= build
SAN_BUILD  ?= build-san
BENCH_BUILD?= build-bench
WERROR     := $(if $(CI),-Dwerror=true,)
ONLY       ?=
ARGS       ?=

.PHONY: all deps test test-unit test-san run bench clean fuzz

all: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

deps:
	@tools/install-deps

$(BUILD)/build.ninja:
	$(MESON) setup $(BUILD) --buildtype=debugoptimized -Db_ndebug=false $(WERROR)

$(SAN_BUILD)/build.ninja:
	$(MESON) setup $(SAN_BUILD) --buildtype=debug -Db_sanitize=address,undefined \
		-Db_lundef=false $(WERROR)

$(BENCH_BUILD)/build.ninja:
	$(MESON) setup $(BENCH_BUILD) --buildtype=release -Db_ndebug=true $(WERROR)

# Every suite in build/, then the unit suite under ASan+UBSan; the last line
# is the summary of both runs ("N passed, N failed, N skipped").
test: deps $(BUILD)/build.ninja $(SAN_BUILD)/build.ninja
	ninja -C $(BUILD)
	ninja -C $(SAN_BUILD)
	rc=0; \
	$(MESON) test -C $(BUILD) --print-errorlogs --num-processes 2 $(ARGS) || rc=1; \
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	$(MESON) test -C $(SAN_BUILD) --suite unit --print-errorlogs --num-processes 2 $(ARGS) || rc=1; \
	tools/test-summary $(BUILD) $(SAN_BUILD) || rc=1; \
	exit $$rc

run: all
	@mkdir -p var
	$(BUILD)/mgmt/streamflowd $(ARGS)

bench: deps $(BENCH_BUILD)/build.ninja
	$(if $(filter compare,$(ONLY)),tools/install-peers,)
	ninja -C $(BENCH_BUILD)
	$(MESON) test -C $(BENCH_BUILD) --benchmark --verbose --timeout-multiplier 0 \
		$(if $(ONLY),--suite $(ONLY),)

fuzz: deps
	tests/fuzz/run-fuzzers $(ARGS)

clean:
	rm -rf $(BUILD) $(SAN_BUILD) $(BENCH_BUILD)
