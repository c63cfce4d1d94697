# ftwall: the project's commands. `make demo` shows ftwall working, `make test` runs every test.
# Each target installs what it needs on a fresh Debian 12 machine (as root) through .ci/deps.

CARGO ?= cargo
BIN := target/release/ftwall
# The lab runs on Debian's python3 (python3-pytest comes from apt through .ci/deps).
PYTHON ?= /usr/bin/python3

.PHONY: all build test test-unit test-lab demo deps clean ipk test-openwrt bench-lab bench

all: build

build:
	$(CARGO) build --release --locked

deps:
	sh .ci/deps

# Every test: unit and integration tests of the crate, then the suites the other targets add.
test: deps test-unit test-lab test-openwrt

test-unit:
	$(CARGO) test --locked

# End-to-end lab in network namespaces (root): the real daemon and rules against simulators.
test-lab: deps build
	cd tests/lab && FTWALL_BIN=$(CURDIR)/$(BIN) $(PYTHON) -m pytest

# OpenWrt packages (.ipk) from the `make cross` binaries: one per OpenWrt package architecture
# listed in cross/targets.tsv, or ARCH=... (e.g. ARCH=mipsel_24kc). Output in dist/ipk/ARCH/.
ipk:
	sh openwrt/build-ipk.sh $(ARCH)

# The OpenWrt package's tests: shell lint, init script, .ipk files, LuCI (openwrt/tests/).
test-openwrt: deps build
	sh openwrt/tests/run.sh

# Benchmarks (root; never part of `make test`): every figure of issue 8 against its baseline,
# measured in one run, into BENCHMARKS.md. BENCH_REPS=N repeats the lab figures (default 5).
bench: deps build
	FTWALL_APT_PACKAGES="libndpi-bin gcc libc6-dev" sh .ci/deps
	$(CARGO) build --release --locked --example null_queue --example memory_probe
	# The static musl build is how router packages are built; its memory is the goal's figure.
	# The `make cross` build itself (zig, std from source), not a plain cargo build into its path.
	bash cross/build.sh x86_64-unknown-linux-musl
	cd tests/lab && FTWALL_BIN=$(CURDIR)/$(BIN) $(PYTHON) benchmarks.py --out $(CURDIR)/BENCHMARKS.md

# The live lab in network namespaces, narrated: issue 3's scenarios 1-3 in about 20 s (root).
demo: deps build
	cd tests/lab && FTWALL_BIN=$(CURDIR)/$(BIN) $(PYTHON) demo.py

# Measures (never asserts) the queue path in the lab: bulk TCP through the router and new
# UDP flows per second through the daemon, with and without ftwall (root; a table for README).
bench-lab: deps build
	cd tests/lab && FTWALL_BIN=$(CURDIR)/$(BIN) $(PYTHON) bench.py $(BENCH_SECONDS)

clean:
	$(CARGO) clean
	rm -rf build dist

# Fuzzing (cargo-fuzz on nightly; fuzz/run installs cargo-fuzz if missing): `make fuzz` runs
# each target for FUZZ_SECONDS, `make fuzz-ci` for a few seconds each. Not part of `make test`:
# the nightly fuzz build alone takes one to three minutes on 2 cores; .ci/run calls fuzz-ci.
FUZZ_SECONDS ?= 60
FUZZ_CI_SECONDS ?= 5
.PHONY: fuzz fuzz-ci fuzz-seeds

fuzz:
	fuzz/run $(FUZZ_SECONDS)

fuzz-ci:
	fuzz/run $(FUZZ_CI_SECONDS)

# Regrows the seed corpora (fuzz/corpus/TARGET) from the shared captures and test builders.
fuzz-seeds:
	$(CARGO) run --locked --example fuzz_seeds

# Cross builds (cross/README.md): static musl binaries at target/<triple>/release/ftwall for the
# targets in cross/targets.tsv, or only TARGET=<triple>. Uses cross-rs when a container engine
# works, else cargo-zigbuild with std built from source; installs what it needs.
TARGET ?=
.PHONY: cross cross-check sizes test-cross

cross:
	bash cross/build.sh $(TARGET)
	bash cross/check.sh $(TARGET)
	bash cross/sizes.sh

# Compare the cross-built binaries with the host build under qemu-user.
cross-check:
	bash cross/check.sh $(TARGET)

# Rewrite the README's size table from the binaries built by `make cross`.
sizes:
	bash cross/sizes.sh --update README.md

# Unit and pure integration tests on big-endian MIPS and 32-bit ARMv7 under qemu-user, then the
# shipped (release) big-endian MIPS binary compared with the host build, packaged as the
# mips_24kc .ipk, unpacked, checked and installed into a temporary root.
test: test-cross
test-cross:
	bash cross/test.sh $(TARGET)
	bash cross/build.sh mips-unknown-linux-musl
	bash cross/check.sh mips-unknown-linux-musl
	sh openwrt/tests/ipk-cross-test.sh
