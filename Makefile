# meshbox: build, test, and put it on a Raspberry Pi. `make help` lists the targets.

SHELL   := bash
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
DIST    := dist
ARCHES  := armv6 armv7 arm64

# flash/image inputs: make image IMAGE=raspios.img.xz BOARD=pi4 CONFIG=meshbox.yaml
IMAGE      ?=
BOARD      ?= pi4
CONFIG     ?=
OUT        ?= $(DIST)/meshbox-$(BOARD).img
DEVICE     ?=
FLASH_ARGS ?=
BENCH      ?= .
# signed updates: build-arm signs dist/ with SIGNING_KEY when it exists
# (meshbox keygen writes it); image/flash install its .pub as the box's key.
SIGNING_KEY ?= $(if $(MESHBOX_SIGNING_KEY),$(MESHBOX_SIGNING_KEY),$(HOME)/.config/meshbox/update.key)
UPDATE_KEY  ?= $(SIGNING_KEY:.key=.pub)

.DEFAULT_GOAL := help

.PHONY: help build build-arm keygen test test-arm lint fmt image flash hil bench clean

help: ## list the targets
	@grep -E '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | \
		awk -F':.*## ' '{ printf "  %-10s %s\n", $$1, $$2 }'

build: ## build meshbox for this machine into bin/meshbox
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/meshbox ./cmd/meshbox

build-arm: $(ARCHES:%=$(DIST)/meshbox-linux-%) ## static Pi binaries in dist/ (armv6 Zero/1, armv7 2, arm64 3/4/5/Zero 2 W), signed when SIGNING_KEY exists
	@if [ -f "$(SIGNING_KEY)" ]; then \
		CGO_ENABLED=0 $(GO) run ./cmd/meshbox sign -key "$(SIGNING_KEY)" $^; \
	else \
		echo "build-arm: no signing key at $(SIGNING_KEY): dist/ is unsigned (boxes with an update key refuse it; make keygen)"; \
	fi
	@ls -l $(DIST)/meshbox-linux-*

keygen: ## make the update signing key pair SIGNING_KEY (private, 0600) and its .pub
	CGO_ENABLED=0 $(GO) run ./cmd/meshbox keygen -out "$(SIGNING_KEY)"

# A rebuilt binary never keeps the signature of the one before it.
$(DIST)/meshbox-linux-armv6: FORCE
	@rm -f $@.sig
	CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=6 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $@ ./cmd/meshbox
$(DIST)/meshbox-linux-armv7: FORCE
	@rm -f $@.sig
	CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=7 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $@ ./cmd/meshbox
$(DIST)/meshbox-linux-arm64: FORCE
	@rm -f $@.sig
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $@ ./cmd/meshbox
FORCE:

test: ## run every test with the race detector
	$(GO) test -race ./...

# Under qemu-user the tests that build and exec helper binaries skip (-short):
# the kernel would need binfmt_misc to run them.
test-arm: ## run the unit tests as arm64 and armv6 binaries under qemu-user-static
	@command -v qemu-aarch64-static >/dev/null && command -v qemu-arm-static >/dev/null || \
		{ echo "install qemu-user-static"; exit 1; }
	CGO_ENABLED=0 GOARCH=arm64 $(GO) test -short -exec qemu-aarch64-static ./...
	CGO_ENABLED=0 GOARCH=arm GOARM=6 $(GO) test -short -exec "qemu-arm-static -cpu arm1176" ./...

lint: ## gofmt check, go vet, bash -n (and shellcheck when installed) on the scripts
	@out=$$(gofmt -l $$($(GO) list -f '{{.Dir}}' ./...)); \
		if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@for f in scripts/*.sh scripts/lib/*.sh; do bash -n "$$f" || exit 1; done
	@if command -v shellcheck >/dev/null; then shellcheck -S warning -x scripts/flash.sh scripts/lib/*.sh; fi

fmt: ## gofmt -w every Go file
	gofmt -w $$($(GO) list -f '{{.Dir}}' ./...)

image: ## write meshbox into a Pi OS image: make image IMAGE=raspios.img.xz BOARD=pi4 CONFIG=my.yaml [OUT=...]
	@test -n "$(IMAGE)" || { echo "usage: make image IMAGE=raspios.img.xz BOARD=pi4 [CONFIG=meshbox.yaml] [FLASH_ARGS=...]"; exit 2; }
	@mkdir -p $(dir $(OUT))
	scripts/flash.sh $(IMAGE) --board $(BOARD) $(if $(CONFIG),--config $(CONFIG)) $(if $(wildcard $(UPDATE_KEY)),--update-key $(UPDATE_KEY)) $(FLASH_ARGS) --image-only $(OUT)

flash: ## write it to an SD card: make flash IMAGE=... BOARD=pi4 DEVICE=/dev/sdX [CONFIG=...] [FLASH_ARGS=...]
	@test -n "$(IMAGE)" -a -n "$(DEVICE)" || { echo "usage: make flash IMAGE=raspios.img.xz BOARD=pi4 DEVICE=/dev/sdX [CONFIG=...] [FLASH_ARGS=...]"; exit 2; }
	scripts/flash.sh $(IMAGE) $(DEVICE) --board $(BOARD) $(if $(CONFIG),--config $(CONFIG)) $(if $(wildcard $(UPDATE_KEY)),--update-key $(UPDATE_KEY)) $(FLASH_ARGS)

hil: ## hardware-in-the-loop tests (scripts/hil/run.sh)
	scripts/hil/run.sh

bench: ## benchmarks (BENCH=regexp to pick)
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem ./...

clean: ## remove bin/ and dist/
	rm -rf bin $(DIST)
