# The user interface of the project.
#
#   make              install missing packages, build the pinned llama.cpp (cached
#                     outside the checkout) and this project
#   make demo         the main job: a prompt answered natively and through VirtGPU
#   make install      install under PREFIX (default /usr/local; DESTDIR honoured)
#   make test         the test suite (normal build and ASan+UBSan build) via ctest,
#                     then make test-vm
#   make test-vm      llama.cpp in a real VM (QEMU, virtio-gpu, our virglrenderer)
#   make test-backend-ops  the full test-backend-ops suite on the VirtGPU device
#   make bench        the benchmarks (the small model in Q4_0, F16 and F32)
#   make fuzz         the libFuzzer targets (clang), FUZZ_SECONDS each (default 60)
#   make print-deps   print where the built dependencies live
#
# DEPS_DIR=dir and LLAMA_CPP_DIR=checkout override the dependency cache and the
# llama.cpp source (see README.md).

SHELL := /bin/bash
MAKEFLAGS += --no-print-directory
DEPS_DIR := $(shell scripts/deps.sh --print-prefix)
export DEPS_DIR
LLAMA_SRC_DIR := $(if $(LLAMA_CPP_DIR),$(abspath $(LLAMA_CPP_DIR)),$(DEPS_DIR)/src)
LLAMA_BUILD_DIR := $(DEPS_DIR)/build
# ggml with ASan and UBSan, the host side's in build-asan and build-fuzz
# (scripts/deps.sh --asan)
GGML_ASAN_LIB_DIR := $(DEPS_DIR)/build-asan/bin
JOBS ?= $(shell nproc)
FUZZ_SECONDS ?= 60
CTEST_ARGS ?=
PREFIX ?= /usr/local

CMAKE_DEFS = -DLLAMA_SRC_DIR=$(LLAMA_SRC_DIR) -DLLAMA_BUILD_DIR=$(LLAMA_BUILD_DIR)

.PHONY: all packages deps deps-asan build build-asan build-fuzz demo install test test-vm test-backend-ops bench fuzz fuzz-corpus print-deps clean

all: build

packages:
	@scripts/install-packages.sh

deps: packages
	@scripts/deps.sh

deps-asan: deps
	@scripts/deps.sh --asan

build: deps
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_DEFS) >/dev/null
	@cmake --build build -j $(JOBS)

build-asan: deps-asan
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DVIRTGPU_SANITIZE=ON $(CMAKE_DEFS) \
	    -DGGML_HOST_LIB_DIR=$(GGML_ASAN_LIB_DIR) >/dev/null
	@cmake --build build-asan -j $(JOBS)

demo: build
	@LLAMA_BIN_DIR=$(LLAMA_BUILD_DIR)/bin scripts/demo.sh

# libraries, apir-server, headers, pkg-config files and the systemd service
# (README.md, "Installing")
install: build
	@DESTDIR=$(DESTDIR) cmake --install build --prefix $(PREFIX)

test: build build-asan
	@echo "== tests: normal build =="
	@cd build && ctest --output-on-failure $(CTEST_ARGS)
	@echo "== tests: AddressSanitizer + UBSan build =="
	@cd build-asan && ctest --output-on-failure $(CTEST_ARGS)
	@$(MAKE) test-vm

# the seed's scenario in a real VM: Debian 13's QEMU with our libvirglrenderer.so.1
# (its dependencies are cached by scripts/vm-deps.sh), Debian's kernel
test-vm: build
	@echo "== tests: a real VM (scripts/vm.sh) =="
	@scripts/vm-deps.sh && scripts/reference-frontend.sh
	@LLAMA_BIN_DIR=$(LLAMA_BUILD_DIR)/bin bash tests/vm/vm_test.sh build build/bin/gguf-model-maker

# the whole test-backend-ops suite against the VirtGPU device (long)
test-backend-ops: build
	@LLAMA_BIN_DIR=$(LLAMA_BUILD_DIR)/bin bash tests/backend_ops.sh build/bin/apir-server \
	    build/lib/libggml-virtgpu-backend.so build/lib/libggml-virtgpu.so

# the CPU host, the small model in each weight type (BENCH_TYPES), THREADS threads
BENCH_TYPES ?= q4_0 f16 f32
bench: build
	@for type in $(BENCH_TYPES); do \
	    LLAMA_BIN_DIR=$(LLAMA_BUILD_DIR)/bin TYPE=$$type THREADS=$${THREADS:-2} bench/run.sh || exit 1; \
	done

# libFuzzer targets (tests/fuzz/README.md), built by clang with ASan and UBSan
build-fuzz: deps-asan
	@cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVIRTGPU_FUZZ=ON \
	    $(CMAKE_DEFS) -DGGML_HOST_LIB_DIR=$(GGML_ASAN_LIB_DIR) >/dev/null
	@cmake --build build-fuzz -j $(JOBS) --target fuzz_targets

fuzz: build-fuzz
	@tests/fuzz/run.sh build-fuzz $(FUZZ_SECONDS)

# minimizes seeds (tests/fuzz/capture.sh's output) into tests/fuzz/corpus
fuzz-corpus: build-fuzz
	@tests/fuzz/run.sh --merge build-fuzz $(SEEDS)

print-deps:
	@echo $(DEPS_DIR)

clean:
	rm -rf build build-asan build-fuzz
