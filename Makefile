# Thin wrapper around CMake: `make demo` and `make test` set everything up on
# a fresh Debian 12 machine (as root) and run the demo or the test suite.
BUILD      ?= build
TEST_BUILD ?= build-test
CLANG_BUILD ?= build-clang
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
DEMO       ?= scenarios/demo-2023-10-02.json
DEMO_DB    ?= results/demo-2023-10-02.db

.PHONY: all deps build build-test build-clang build-fuzz fuzz demo test bench clean format

all: build

deps:
	./scripts/install-deps
	@# npm packages, as pinned in each package-lock.json: the dashboard's signing
	@# libraries (web/, built into the binary) and the browser tests' driver.
	@for d in web tests/browser; do \
	    if [ ! -f $$d/node_modules/.package-lock.json ] || \
	       [ $$d/package-lock.json -nt $$d/node_modules/.package-lock.json ]; then \
	        echo "npm ci in $$d"; \
	        npm ci --prefix $$d --no-audit --no-fund --loglevel=error || exit 1; \
	    fi; \
	done

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DFLEXBED_TESTS=OFF
	cmake --build $(BUILD) -j $(JOBS)

build-test: deps
	cmake -S . -B $(TEST_BUILD) -DCMAKE_BUILD_TYPE=Debug -DFLEXBED_SANITIZE=ON
	cmake --build $(TEST_BUILD) -j $(JOBS)

# The whole tree, tests included, compiled by clang with the same warnings
# as errors: the code is C11, not GCC's dialect (and the fuzzers need clang).
build-clang: deps
	cmake -S . -B $(CLANG_BUILD) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Release
	cmake --build $(CLANG_BUILD) -j $(JOBS)

# libFuzzer targets (fuzz/): the whole tree instrumented for coverage, with
# ASan and UBSan; `make fuzz` runs each target FUZZ_SECONDS from the seeds in
# fuzz/corpus (copied, so the seeds stay as committed).
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= scenario dss csv canon tx ocpp sunspec http
build-fuzz: deps
	cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	      -DFLEXBED_FUZZ=ON -DFLEXBED_TESTS=OFF
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target $(addprefix fuzz_,$(FUZZ_TARGETS))

fuzz: build-fuzz
	@for t in $(FUZZ_TARGETS); do \
	    mkdir -p $(FUZZ_BUILD)/corpus/$$t && cp -n fuzz/corpus/$$t/* $(FUZZ_BUILD)/corpus/$$t/ ; \
	    echo "fuzz_$$t: $(FUZZ_SECONDS) s"; \
	    ./$(FUZZ_BUILD)/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
	        -artifact_prefix=$(FUZZ_BUILD)/crash-$$t- $(FUZZ_BUILD)/corpus/$$t || exit 1; \
	done

demo: build
	./$(BUILD)/flexbed run $(DEMO) --out $(DEMO_DB)
	./$(BUILD)/flexbed report $(DEMO_DB) --brief
	@echo
	@echo "The dashboard on this database (Market, DSO, FSP, Monitoring and Ledger views; docs/dashboard.md):"
	@echo "  ./$(BUILD)/flexbed serve --db $(DEMO_DB) --http 8080"
	@echo "  then open http://127.0.0.1:8080/ in a browser"

# The Release build is part of the test: `make demo` compiles at -O2, where
# GCC warns about things -O0 does not see, and warnings are errors; so is
# the clang build. Then every fuzz target replays its seeds and fuzzes for
# 10 s (`make fuzz` runs them longer).
test: build-test build build-clang build-fuzz
	cd $(TEST_BUILD) && ctest --output-on-failure -j $(JOBS)
	$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=10

bench: build
	./$(BUILD)/flexbed bench kernel
	./$(BUILD)/flexbed bench store
	./$(BUILD)/flexbed bench powerflow
	./$(BUILD)/flexbed bench ledger
	./$(BUILD)/flexbed bench match

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(TEST_BUILD) $(CLANG_BUILD) $(FUZZ_BUILD)
