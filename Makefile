# The contract: `make build`, `make demo`, `make test`; each does its own set-up and is idempotent.
SHELL := /bin/bash
NODE_HEADERS ?= $(firstword $(wildcard /usr/include/node $(dir $(shell command -v node))../include/node))

.PHONY: setup build native demo test test-unit test-integration lint anchors bench clean

setup:
	@scripts/setup.sh

native: build/berth_native.node

build/berth_native.node: native/berth_native.c
	@mkdir -p build
	cc -O2 -Wall -Wextra -Werror -std=gnu11 -shared -fPIC -DNODE_GYP_MODULE_NAME=berth_native -I$(NODE_HEADERS) -o $@.tmp $< -lpthread
	@mv $@.tmp $@

build: setup native
	@npx tsc -p tsconfig.json

demo: build
	@scripts/demo.sh

lint: setup
	@npx eslint .
	@npx prettier --check . >/dev/null || (npx prettier --list-different .; exit 1)

test-unit: build
	@node --test --test-reporter=spec $$(find dist/src -name '*.test.js' | sort)

test-integration: build
	@scripts/integration.sh

# The peer engines (shared/bench/anchors.sh): the client and CLI tests compare against a real dockerd.
anchors:
	@if [ -f ../shared/bench/anchors.sh ]; then bash ../shared/bench/anchors.sh; \
	else echo "anchors: ../shared/bench/anchors.sh not found; tests against the anchor dockerd will fail" >&2; fi

test: build lint anchors test-unit test-integration

# The benchmark suite (bench/README.md); ONLY=case[,case] picks cases.
bench: build
	@scripts/bench.sh $(ONLY)

clean:
	rm -rf dist build
