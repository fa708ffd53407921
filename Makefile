# Quick start on a fresh Debian machine, as root:
#   make start            # install, build, and run the agent on :9464 (extra flags: make start ARGS="--interval 1s")
#   make test             # install, build, and run the unit and integration tests
ARGS ?=

.PHONY: bootstrap start test clean

bootstrap:
	@./scripts/bootstrap.sh

start: bootstrap
	npm start --silent -- $(ARGS)

test: bootstrap
	npm test

clean:
	rm -rf native/build bpf/build test/helpers/build dist
