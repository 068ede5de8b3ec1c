# edgelab: `make` builds, `make test` runs the suite, `make demo` runs the main job.
# Every target first installs missing Debian packages (scripts/install-deps).
BUILD ?= build
JOBS ?= $(shell nproc)

.PHONY: all deps configure test demo asan bench clean

all: configure
	cmake --build $(BUILD) -j $(JOBS)

deps:
	@scripts/install-deps

configure: deps
	@test -f $(BUILD)/build.ninja || cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo

# The suite runs twice: on the release build, then under ASan/UBSan.
test: all asan
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

demo: all
	@scripts/demo $(BUILD)

asan: deps
	@test -f build-asan/build.ninja || cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DEDGELAB_SANITIZE=ON
	cmake --build build-asan -j $(JOBS)
	ctest --test-dir build-asan --output-on-failure -j $(JOBS)

bench: all
	bench/wrk-hello.sh $(BUILD)

clean:
	rm -rf $(BUILD) build-asan
