# Lá Chắn — build, demo and tests. `make demo` and `make test` are the two
# commands a new user runs; both install what is missing first.
SHELL := /bin/bash
GO    ?= go
BIN   := bin
# Debian packages the build needs: libyara for the agent's YARA scanner,
# libpcap for the sensor, a C compiler for cgo.
DEB_PKGS := libyara-dev libpcap-dev pkg-config gcc
# What the tests drive besides: Chromium for the console's browser tests,
# poppler for the reports' PDF checks, nftables and iproute2 for isolation
# in network namespaces, debootstrap for the package install test, and the
# Windows tool chain (mingw-w64, wixl, osslsigncode, Wine) for the Windows
# agent, its installer and its smoke test.
TEST_PKGS := chromium poppler-utils nftables iproute2 debootstrap gcc-mingw-w64-x86-64 wixl msitools osslsigncode wine wine64 tshark
TEST_FLAGS ?= -race -timeout 20m
FUZZTIME ?= 20s
SOAK_DURATION ?= 30m

.PHONY: all deps test-deps install-pkgs build test vet demo bench fuzz soak screenshots clean packages packages-deb content

all: build

deps:
	@command -v $(GO) >/dev/null || { echo "Go 1.26 or newer is needed (see README.md)"; exit 1; }
	@$(MAKE) --no-print-directory install-pkgs PKGS="$(DEB_PKGS)"

test-deps: deps
	@$(MAKE) --no-print-directory install-pkgs PKGS="$(TEST_PKGS)"

install-pkgs:
	@missing=""; for p in $(PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  sudo=""; [ "$$(id -u)" -eq 0 ] || sudo=sudo; \
	  $$sudo apt-get update -qq && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

build: deps
	$(GO) build -o $(BIN)/lachan ./server/cmd/lachan
	$(GO) build -o $(BIN)/lachan-agent ./agent/cmd/lachan-agent

vet: deps
	$(GO) vet ./...

test: test-deps vet
	$(GO) test $(TEST_FLAGS) ./...
	$(GO) run ./server/cmd/lachan playbooks test playbooks

demo: build
	$(GO) run ./test/demo -bin $(BIN)

bench: deps
	@$(MAKE) --no-print-directory install-pkgs PKGS="tshark yara time"
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 2s ./...
	$(GO) test -run '^$$' -bench 'Ingest/sync=true' -benchtime 1500000x -cpu 1 ./server/store/embedded
	$(GO) test -run '^$$' -bench DetectCommand -cpu 1 ./server/cmd/lachan
	bash test/detectbench.sh
	cd test/sigmago && $(GO) test -run '^$$' -bench SigmaGoComparison -benchtime 1x -cpu 1 -timeout 30m .
	$(GO) run ./server/sensor/cmd/sensorbench -flows 100000 -rounds 3
	$(GO) run ./test/load -agents 200 -rate 2000 -duration 30s
	$(GO) run ./test/load -agents 2000 -rate 20000 -duration 5m
	$(GO) run ./test/load -idle-agents 10000 -checkin 60s -duration 3m
	@$(MAKE) --no-print-directory rulecheck RULES="$(CONTENT_DATA)/sigma/sigmahq/rules"
	$(GO) run ./agent/yara/cmd/yarabench -reference yara-rules -workers 1

fuzz: deps
	FUZZTIME=$(FUZZTIME) bash test/fuzz.sh

# The README's console screenshots (docs/console/), refreshed by the
# browser tests; a plain `make test` leaves them alone.
screenshots: test-deps
	LACHAN_SCREENSHOTS=1 $(GO) test -count=1 -run TestBrowser ./test/browser

# The kill soak (docs/benchmarks.md): SOAK_DURATION of files, findings,
# incidents and SIGKILLs; SOAK_KILLS and SOAK_SEED are read too.
soak: deps
	SOAK_DURATION=$(SOAK_DURATION) $(GO) run ./test/soak

# Installable packages in dist/: the Debian packages of the server and the
# agent (docs/install/), and the Windows agent with its installer.
# VERSION defaults to the VERSION file, else git describe.
packages: packages-deb packages-windows

packages-deb: deps content
	$(GO) run ./deploy/debian/mkdeb -out dist -content dist/content $(if $(VERSION),-version $(VERSION))

# The default content pack for the server package (dist/content): SigmaHQ,
# signature-base and Yara-Rules read from CONTENT_DATA (never copied into
# the repository), the project's osquery packs unless OSQUERY_PACKS names a
# directory (with OSQUERY_LICENCE and OSQUERY_SOURCE), signed with
# CONTENT_KEY, made on first use outside the repository
# (~/.config/lachan/release/content.key). docs/decisions.md, "Content packs".
CONTENT_DATA ?= ../shared/data
content:
	$(GO) run ./deploy/content/mkcontent -data $(CONTENT_DATA) -out dist/content $(if $(CONTENT_KEY),-key $(CONTENT_KEY)) \
	  $(if $(OSQUERY_PACKS),-osquery $(OSQUERY_PACKS) -osquery-licence $(OSQUERY_LICENCE) -osquery-source "$(OSQUERY_SOURCE)")

clean:
	rm -rf $(BIN)

# make windows, make packages-windows: the Windows agent and its MSI.
include deploy/windows/windows.mk

# make rulecheck RULES="DIR..." [ATTACK_STIX=enterprise-attack.json]: load
# every Sigma rule under the directories (or files) as the server would and
# print the share that loads, the top reasons for the rest and the ATT&CK
# tags no table entry holds; the whole report, each refusal at file:line:col,
# goes to bin/rulecheck.txt. A measurement: it does not fail when rules are
# refused (docs/benchmarks.md, "Rule loading").
.PHONY: rulecheck
rulecheck:
	@test -n "$(RULES)" || { echo 'usage: make rulecheck RULES="DIR..." [ATTACK_STIX=FILE]'; exit 2; }
	@mkdir -p $(BIN)
	@$(GO) run ./server/cmd/lachan rules check $(if $(ATTACK_STIX),--attack-stix $(ATTACK_STIX)) $(RULES) > $(BIN)/rulecheck.txt 2>&1; \
	grep -E '^(ATT&CK table|[0-9]+ correlation rules loaded|[0-9]+ warnings|[0-9]+ of [0-9]+ rule files loaded)' $(BIN)/rulecheck.txt; \
	sed -n '/^top reasons:/,$$p' $(BIN)/rulecheck.txt | head -11; \
	echo "full report: $(BIN)/rulecheck.txt"
