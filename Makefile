# mod_tcpinspect — build, test, demo, install.
#
#   make            build .libs/mod_tcpinspect.so (apxs)
#   make deps       install every missing Debian package (build, tests, demo)
#   make test       deps + build + unit tests (plain and ASan/UBSan) +
#                   fuzz corpus replay + Prometheus rule tests +
#                   Apache::Test suites
#   make promtool   check and unit-test contrib/prometheus/ with promtool
#   make demo       deps + build + httpd + Jetty + traffic; prints the URL
#   make demo-stop  stop what make demo started
#   make install    module into `apxs -q LIBEXECDIR`, Debian mods-available
#   make deb        build/deb/libapache2-mod-tcpinspect_<version>_<arch>.deb
#   make bench      benchmarks (figures are ratios against a peer run)

APXS      ?= $(shell command -v apxs 2>/dev/null || echo /usr/bin/apxs)
CC        ?= cc
CLANG     ?= clang
APR_CFG   ?= apr-1-config
BUILD     := build
comma     := ,

# The version is written once, in debian/changelog's first line (the
# package's version); every build gets it as -DTCPI_VERSION (status.json's
# "version"). build/gen/version changes only when it does, so a new version
# rebuilds what was compiled with the old one.
TCPI_VERSION := $(shell head -n1 debian/changelog 2>/dev/null | cut -d' ' -f2 | tr -d '()')
$(if $(TCPI_VERSION),,$(error cannot read the version from debian/changelog))
VERSION_DEF   := -DTCPI_VERSION='"$(TCPI_VERSION)"'
# apxs runs its compiler through a shell of its own: one more level of quotes
APXS_VERSION_DEF := '-Wc,-DTCPI_VERSION=\"$(TCPI_VERSION)\"'
VERSION_STAMP := $(BUILD)/gen/version

APR_CFLAGS := $(shell $(APR_CFG) --cflags --cppflags --includes 2>/dev/null)
APR_LIBS   := $(shell $(APR_CFG) --link-ld --libs 2>/dev/null)

WARN      := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-unused-parameter
# -MMD -MP: every object and test binary also depends on the headers it
# includes (build/**/*.d), so a header change rebuilds exactly its users.
# CPPFLAGS and CFLAGS from the caller come last (debian/rules passes
# dpkg-buildflags' hardening flags so).
CORE_CFLAGS := -std=gnu11 -O2 -g -fPIC $(WARN) -MMD -MP -Iinclude -Isrc -I$(BUILD)/gen $(APR_CFLAGS) \
               $(VERSION_DEF) $(CPPFLAGS) $(CFLAGS)
SAN_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all

# The core: every stage's folder of src/ (the module map in README.md) but
# the httpd glue (src/httpd/). Each stage exposes one header, include/tcpi/.
STAGES    := common store pcapfile decode print flow join states region reqcap capture render
CORE_SRC  := $(sort $(foreach s,$(STAGES),$(wildcard src/$(s)/*.c)))
CORE_OBJ  := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(CORE_SRC))
CORE_SOBJ := $(patsubst src/%.c,$(BUILD)/asan/obj/%.o,$(CORE_SRC))
CORE_LIB  := $(BUILD)/libtcpi.a
CORE_SLIB := $(BUILD)/asan/libtcpi.a
HDRS      := $(wildcard include/tcpi/*.h $(foreach s,$(STAGES),src/$(s)/*.h))

# The kernel-side state counter: compiled for the BPF target (with BTF, for
# CO-RE), then embedded in tcpi_evstates.o as a byte array.
BPF_SRC   := src/states/bpf/tcpi_evstates.bpf.c
BPF_OBJ   := $(BUILD)/bpf/tcpi_evstates.bpf.o
BPF_HDR   := $(BUILD)/gen/tcpi_evstates_obj.h
# (of the caller's CFLAGS only a -ffile-prefix-map: dpkg-buildflags' keeps
# the build directory out of the program's BTF, so the package is the same
# wherever it is built)
BPF_CFLAGS := -O2 -g -target bpf -Wall -Werror -Isrc/states \
              -I/usr/include/$(shell $(CC) -dumpmachine 2>/dev/null) \
              $(filter -ffile-prefix-map=%,$(CFLAGS))

TEST_SRC  := $(sort $(wildcard tests/test_*.c))
TESTS     := $(patsubst tests/%.c,$(BUILD)/%,$(TEST_SRC))
STESTS    := $(patsubst tests/%.c,$(BUILD)/asan/%,$(TEST_SRC))
TEST_LIBS := -lcmocka -lpcap -lbpf -lseccomp $(APR_LIBS) -lpthread
FUZZ_SRC  := $(sort $(wildcard tests/fuzz_*.c))
FUZZERS   := $(patsubst tests/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRC))
BENCH_SRC := $(sort $(wildcard tests/bench_*.c))
BENCHES   := $(patsubst tests/%.c,$(BUILD)/%,$(BENCH_SRC))

MODULE    := .libs/mod_tcpinspect.so
# The httpd glue: mod_tcpinspect.c and src/httpd/ (not in CORE_SRC, so
# never in libtcpi.a nor the unit tests).
HTTPD_SRC := $(sort $(wildcard src/httpd/*.c))
HTTPD_HDR := src/httpd/mod_tcpinspect.h

.PHONY: all deps module unit unit-asan fuzz fuzz-replay promtool test itest demo demo-stop install deb bench clean FORCE
all: module

$(VERSION_STAMP): FORCE
	@mkdir -p $(dir $@)
	@echo '$(TCPI_VERSION)' | cmp -s - $@ || echo '$(TCPI_VERSION)' >$@

deps:
	@./tests/deps.sh

module: $(MODULE)
$(MODULE): mod_tcpinspect.c $(HTTPD_SRC) $(HTTPD_HDR) $(CORE_LIB) $(HDRS) $(VERSION_STAMP)
	$(APXS) -c -Wc,-std=gnu11 -Wc,-Wall -Wc,-Wextra -Wc,-Werror -Wc,-Wno-unused-parameter \
	    -Wc,-Wno-missing-field-initializers -Iinclude -Isrc $(APXS_VERSION_DEF) \
	    $(addprefix -Wc$(comma),$(CPPFLAGS) $(CFLAGS)) $(addprefix -Wl$(comma),$(LDFLAGS)) \
	    -o mod_tcpinspect.la \
	    mod_tcpinspect.c $(HTTPD_SRC) $(CORE_LIB) -lpcap -lbpf -lseccomp -lssl -lcrypto

$(BPF_OBJ): $(BPF_SRC) src/states/tcpi_evshared.h
	@mkdir -p $(dir $@)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@
$(BPF_HDR): $(BPF_OBJ)
	@mkdir -p $(dir $@)
	@{ echo '/* generated from $(BPF_SRC) by the Makefile */'; \
	   echo 'static const unsigned char tcpi_evstates_obj[] __attribute__((aligned(8))) = {'; \
	   od -An -v -tx1 $< | sed 's/\([0-9a-f][0-9a-f]\)/0x\1,/g'; echo '};'; } > $@.tmp && mv $@.tmp $@
$(BUILD)/obj/states/tcpi_evstates.o $(BUILD)/asan/obj/states/tcpi_evstates.o: $(BPF_HDR)

$(BUILD)/obj/%.o: src/%.c $(VERSION_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CORE_CFLAGS) -c $< -o $@
$(CORE_LIB): $(CORE_OBJ)
	@rm -f $@; ar rcs $@ $^

$(BUILD)/asan/obj/%.o: src/%.c $(VERSION_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CORE_CFLAGS) $(SAN_FLAGS) -c $< -o $@
$(CORE_SLIB): $(CORE_SOBJ)
	@rm -f $@; ar rcs $@ $^

$(BUILD)/test_%: tests/test_%.c $(CORE_LIB)
	$(CC) $(CORE_CFLAGS) -Itests $< -o $@ $(CORE_LIB) $(TEST_LIBS)
$(BUILD)/asan/test_%: tests/test_%.c $(CORE_SLIB)
	@mkdir -p $(dir $@)
	$(CC) $(CORE_CFLAGS) $(SAN_FLAGS) -Itests $< -o $@ $(CORE_SLIB) $(TEST_LIBS)
$(BUILD)/bench_%: tests/bench_%.c $(CORE_LIB)
	$(CC) $(CORE_CFLAGS) -Itests $< -o $@ $(CORE_LIB) -lpcap -lbpf -lseccomp $(APR_LIBS) -lpthread

# Unit tests run from the top directory so fixtures resolve as tests/pcap/...
# (the fixtures and the fuzz corpora are prerequisites: a missing one
# stops make, naming it, instead of failing inside a test)
FIXTURES  := $(wildcard tests/pcap/*.pcap tests/pcap/*.txt)
CORPORA   := $(wildcard tests/corpus/*/*)
unit: $(TESTS) $(FIXTURES)
	@./tests/check_logtags.sh
	@./tests/check_layers.sh
	@set -e; for t in $(TESTS); do echo "== $$t"; ./$$t; done
unit-asan: $(STESTS) $(FIXTURES)
	@set -e; for t in $(STESTS); do echo "== $$t (asan+ubsan)"; \
	    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 ./$$t; done

# libFuzzer targets; `make fuzz-replay` runs each over its committed corpus.
# The core is compiled once for them (instrumented, not linked with the
# fuzzer's main) and each target links that library.
FUZZ_CFLAGS := -std=gnu11 -g -O1 -MMD -MP -Iinclude -Isrc -I$(BUILD)/gen $(APR_CFLAGS) $(VERSION_DEF) \
               -fno-sanitize-recover=all
FUZZ_OBJ  := $(patsubst src/%.c,$(BUILD)/fuzz/obj/%.o,$(CORE_SRC))
FUZZ_LIB  := $(BUILD)/fuzz/libtcpi.a
$(BUILD)/fuzz/obj/%.o: src/%.c $(VERSION_STAMP)
	@mkdir -p $(dir $@)
	$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,address,undefined -c $< -o $@
$(BUILD)/fuzz/obj/states/tcpi_evstates.o: $(BPF_HDR)
$(FUZZ_LIB): $(FUZZ_OBJ)
	@rm -f $@; ar rcs $@ $^
$(BUILD)/fuzz/fuzz_%: tests/fuzz_%.c $(FUZZ_LIB)
	@mkdir -p $(dir $@)
	$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined $< $(FUZZ_LIB) -o $@ \
	    -lpcap -lbpf -lseccomp $(APR_LIBS) -lpthread
fuzz: $(FUZZERS)
fuzz-replay: $(FUZZERS) $(CORPORA)
	@set -e; for f in $(FUZZERS); do n=$$(basename $$f); d=tests/corpus/$${n#fuzz_}; \
	    echo "== $$n over $$d"; ./$$f -runs=0 $$d; \
	    tmp=$$(mktemp -d); ./$$f -runs=20000 -max_total_time=10 -seed=1 $$tmp $$d >$$tmp.log 2>&1 \
	        || { tail -30 $$tmp.log; echo "$$n found a crash"; rm -rf $$tmp $$tmp.log; exit 1; }; rm -rf $$tmp $$tmp.log; done

# The Prometheus rules (contrib/prometheus/): promtool checks them and runs
# their unit tests, and every alert must be named in those tests.
PROM_RULES := contrib/prometheus/tcpinspect.rules.yml
PROM_TESTS := contrib/prometheus/tcpinspect.test.yml
promtool: $(PROM_RULES) $(PROM_TESTS)
	@promtool check rules $(PROM_RULES)
	@promtool test rules $(PROM_TESTS)
	@set -e; for a in $$(sed -n 's/^ *- alert: *//p' $(PROM_RULES)); do \
	    grep -q "alertname: $$a$$" $(PROM_TESTS) || { echo "promtool: $$a has no test in $(PROM_TESTS)"; exit 1; }; done

itest: module
	@./t/run.sh

test: deps
	@$(MAKE) --no-print-directory module unit unit-asan fuzz-replay promtool
	@$(MAKE) --no-print-directory itest

demo: deps
	@$(MAKE) --no-print-directory module
	@./conf/demo.sh start
demo-stop:
	@./conf/demo.sh stop

install: module
	$(APXS) -i -n tcpinspect mod_tcpinspect.la
	@d=$$($(APXS) -q SYSCONFDIR)/mods-available; if [ -d "$$d" ]; then \
	    install -m 644 conf/tcpinspect.load $$d/tcpinspect.load; \
	    install -m 644 conf/tcpinspect.conf $$d/tcpinspect.conf; \
	    echo "installed $$d/tcpinspect.{load,conf}: a2enmod tcpinspect"; fi

# The Debian package (README: Install the Debian package). dpkg-buildpackage
# writes its results next to the tree it builds and cleans that tree
# (`make clean`), so it builds a copy, build/deb/<source>-<version>/, of the
# files git knows (tracked and not ignored; the whole tree outside git), and
# the copy is removed after: build/deb/ ends with the .deb, its -dbgsym
# .deb, the source package (.dsc, .tar.xz), .buildinfo and .changes.
# lintian checks them when installed (t/58_deb.t requires no error).
DEB_DIR := $(BUILD)/deb
DEB_SRC := $(DEB_DIR)/libapache2-mod-tcpinspect-$(TCPI_VERSION)
deb: deps
	@rm -rf $(DEB_DIR) && mkdir -p $(DEB_SRC)
	@if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
	    git ls-files -z --cached --others --exclude-standard | \
	        tar --null -T - --ignore-failed-read -cf - | tar -C $(DEB_SRC) -xf -; \
	else \
	    tar --exclude=./$(BUILD) --exclude=./.libs --exclude=./.git -cf - . | tar -C $(DEB_SRC) -xf -; \
	fi
	@test -f $(DEB_SRC)/debian/rules || { echo "deb: could not copy the tree to $(DEB_SRC)"; exit 1; }
	cd $(DEB_SRC) && dpkg-buildpackage --no-sign
	@rm -rf $(DEB_SRC)
	@ls -1 $(DEB_DIR)
	@if command -v lintian >/dev/null; then \
	    echo "lintian $(DEB_DIR)/*.changes"; lintian --fail-on error $(DEB_DIR)/*.changes; fi

bench: module $(BENCHES)
	@./tests/bench.sh

clean:
	rm -rf $(BUILD) .libs *.la *.lo *.slo *.o \
	    src/httpd/.libs src/httpd/*.lo src/httpd/*.slo src/httpd/*.o

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
