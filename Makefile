# Quick start on a fresh Debian machine, as root:
#   make start            # install, build, and run the agent on :9464 (extra flags: make start ARGS="--interval 1s")
#   make test             # install, build, and run the unit and integration tests
#   make image            # build the container image with podman (no registry needed): localhost/ebpf-otel-agent:<version>
#                         #   and build/image/ebpf-otel-agent.tar (docker-archive)
ARGS ?=

.PHONY: bootstrap start test image clean

bootstrap:
	@./scripts/bootstrap.sh

start: bootstrap
	npm start --silent -- $(ARGS)

test: bootstrap
	npm test

image:
	@./scripts/image/build.sh

clean:
	rm -rf native/build bpf/build test/helpers/build dist
