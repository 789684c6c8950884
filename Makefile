# Earshot - build, test, bench, install.
#
#   make                 libearshot.a, libearshot.so and the earshot command in build/
#   make demo            installs missing Debian packages, builds, transcribes the bundled sample
#   make test            unit and integration tests (cmocka, real model, real files)
#   make test SANITIZE=1 the same under AddressSanitizer + UndefinedBehaviorSanitizer
#   make bench           speed, memory and accuracy against pocketsphinx_continuous
#   make install PREFIX=/usr/local DESTDIR=

PREFIX  ?= /usr/local
DESTDIR ?=
CC      ?= cc
VERSION := $(shell sed -n 's/^\#define EARSHOT_VERSION "\(.*\)"/\1/p' plugin/earshot.h)
SO_MAJOR := $(firstword $(subst ., ,$(VERSION)))
PKGS    := pocketsphinx sphinxbase sndfile samplerate sqlite3 portaudio-2.0 alsa jack jansson speexdsp

ifeq ($(SANITIZE),1)
B       := build-san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
B       := build
SANFLAGS :=
endif

# pkg-config for the packages; a missing one stops the build with apt's
# package name instead of a wall of compiler errors.
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null)

OPT     ?= -O2 -g
CFLAGS  := -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE $(OPT) -Wall -Wextra \
           -Wno-unused-parameter -fPIC $(SANFLAGS) -Iplugin -Iaudio -Icli $(PKG_CFLAGS)
# PocketSphinx's headers trip -Wextra; they are system headers to us.
CFLAGS  += -DEARSHOT_GRAMMAR_DIR=\"$(PREFIX)/share/earshot/grammars/en-us\" -DEARSHOT_SOURCE_GRAMMAR_DIR=\"$(CURDIR)/grammars/en-us\"
CFLAGS  += -isystem /usr/include/pocketsphinx -isystem /usr/include/x86_64-linux-gnu/sphinxbase
LDFLAGS += $(SANFLAGS)
LIBS    := $(PKG_LIBS) -lm

LIB_SRC := plugin/array.c plugin/earshot.c plugin/recognizer.c plugin/grammar.c plugin/grammar_check.c plugin/intent.c plugin/domain_lm.c plugin/kiosk_lm.c plugin/redact.c plugin/store.c plugin/listen.c plugin/report.c plugin/report_render.c plugin/report_guard.c plugin/report_dp.c plugin/report_findings.c plugin/report_themes.c audio/file.c audio/resample.c audio/ring.c audio/capture.c audio/quality.c audio/frontend.c plugin/redact_rules.c plugin/redact_shapes.c plugin/partial.c plugin/adapt.c audio/bandfill.c plugin/intent_model.c
LIB_SRC += plugin/store_erase.c
LIB_OBJ := $(LIB_SRC:%.c=$(B)/%.o)
HEADERS := $(wildcard plugin/*.h audio/*.h cli/*.h service/*.h fleet/*.h)

TESTS   := test_grammar test_handle test_bad_input test_intent test_domain test_recognizer test_quality test_frontend test_cli test_store test_redact test_report
TESTS   += test_audio_file test_faults
TEST_BIN := $(TESTS:%=$(B)/tests/%)
# Tests that drive the built binary from a script (servers, brokers, browsers).
SCRIPT_TESTS := tests/test_wyoming.py tests/test_fleet.sh
# tests/test_report_html.py makes its database with the report bench.
TEST_TOOLS := $(B)/bench/report_bench
TEST_TOOLS += $(B)/bench/fleet_pub
SCRIPT_TESTS += tests/test_report_html.py tests/test_systemd.sh tests/test_mqtt.py
SCRIPT_TESTS += tests/test_serve_device.py
EXAMPLES := $(B)/examples/feed_pcm

.PHONY: all lib demo test bench fuzz install uninstall clean deps check-deps testdata

all: check-deps $(B)/libearshot.a $(B)/libearshot.so $(B)/earshot

check-deps:
	@pkg-config --exists $(PKGS) $(BIN_PKGS) || { echo "earshot: missing build dependencies; run 'make deps' (or bash .ci/install-deps)" >&2; exit 1; }

deps:
	bash .ci/install-deps

$(B)/%.o: %.c $(HEADERS) Makefile
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(B)/libearshot.a: $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

# Only the public earshot_* names are exported (plugin/libearshot.map);
# the internal earshot__* functions stay inside the library.
$(B)/libearshot.so: $(LIB_OBJ) plugin/libearshot.map
	$(CC) -shared -Wl,-soname,libearshot.so.$(SO_MAJOR) -Wl,--version-script=plugin/libearshot.map $(LDFLAGS) -o $@ $(LIB_OBJ) $(LIBS)

# The installed grammar path is compiled into grammar.o: a changed PREFIX
# rebuilds it (the stamp is rewritten only when PREFIX differs).
$(shell mkdir -p $(B); echo '$(PREFIX)' | cmp -s - $(B)/prefix.stamp || echo '$(PREFIX)' > $(B)/prefix.stamp)
$(B)/plugin/grammar.o: $(B)/prefix.stamp

# The earshot command: cli/ (one file per command), service/ (Wyoming,
# MQTT, config file, systemd) and fleet/ (PostgreSQL) sit above the library
# and are linked into the command only; libearshot never links sockets,
# libmosquitto, libsystemd or libpq.
CLI_SRC := cli/main.c cli/adapt.c
CLI_SRC += cli/serve.c
CLI_SRC += cli/common.c cli/analyze.c cli/grammar.c cli/transcribe.c cli/store_cmds.c cli/report.c cli/devices.c cli/listen.c

SERVICE_SRC :=
SERVICE_SRC += service/wyoming.c service/config.c service/notify.c

FLEET_SRC :=
FLEET_SRC += fleet/pg.c fleet/collect.c fleet/fleet_report.c

# Packages only the command links (added by service/ and fleet/).
BIN_PKGS :=
# service/: the config file (libinih) and systemd readiness (libsystemd).
BIN_PKGS += inih libsystemd
# fleet/: the collector's broker client and PostgreSQL.
BIN_PKGS += libmosquitto libpq
SERVICE_SRC += service/mqtt.c
CLI_SRC += cli/publish.c
BIN_CFLAGS = $(if $(strip $(BIN_PKGS)),$(shell pkg-config --cflags $(BIN_PKGS)))
BIN_LIBS = $(if $(strip $(BIN_PKGS)),$(shell pkg-config --libs $(BIN_PKGS)))
BIN_OBJ = $(patsubst %.c,$(B)/%.o,$(CLI_SRC) $(SERVICE_SRC) $(FLEET_SRC))
$(patsubst %.c,$(B)/%.o,$(CLI_SRC) $(SERVICE_SRC) $(FLEET_SRC)): CFLAGS += -Iservice -Ifleet $(BIN_CFLAGS)

$(B)/earshot: $(BIN_OBJ) $(B)/libearshot.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) $(BIN_LIBS)

$(B)/examples/%: $(B)/examples/%.o $(B)/libearshot.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(B)/tests/%: $(B)/tests/%.o $(B)/tests/wer.o $(B)/libearshot.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) $(CMOCKA_LIBS)

# The public header alone must compile as strict C11 (and as C++-safe C).
$(B)/tests/header_ok: tests/test_header.c plugin/earshot.h
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -pedantic -Wall -Wextra -Werror -Iplugin -c tests/test_header.c -o $@.o
	touch $@

# Audio the tests need, made from Debian's packages (flite voices, sox,
# pocketsphinx-testdata); nothing generated is committed.
testdata: $(B)/testdata/.done
$(B)/testdata/.done: tests/make_data.sh
	bash tests/make_data.sh $(B)/testdata
	touch $@

test: all $(B)/tests/header_ok $(TEST_BIN) $(TEST_TOOLS) $(EXAMPLES) testdata $(B)/install-check/.done
	@set -e; export EARSHOT_BIN=$(CURDIR)/$(B)/earshot EARSHOT_TESTDATA=$(CURDIR)/$(B)/testdata; \
	echo "== examples/feed_pcm"; \
	$(B)/examples/feed_pcm examples/sample.wav | tee $(B)/feed_pcm.out; \
	test "$$(grep -c . $(B)/feed_pcm.out)" -ge 2 || { echo "feed_pcm printed no utterances" >&2; exit 1; }; \
	failed=""; \
	for t in $(TEST_BIN); do echo "== $$t"; $$t || failed="$$failed $$t"; done; \
	for t in $(SCRIPT_TESTS); do echo "== $$t"; \
	  case $$t in *.py) python3 $$t;; *) bash $$t;; esac || failed="$$failed $$t"; done; \
	test -z "$$failed" || { echo "FAILED:$$failed" >&2; exit 1; }

$(B)/bench/wer: $(B)/bench/wer_main.o $(B)/tests/wer.o
	$(CC) $(LDFLAGS) -o $@ $^

$(B)/bench/eval_intents: $(B)/bench/eval_intents.o $(B)/tests/wer.o $(B)/libearshot.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(B)/bench/store_bench: $(B)/bench/store_bench.o $(B)/libearshot.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(B)/bench/listen_bench: $(B)/bench/listen_bench.o $(B)/libearshot.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(B)/bench/latency: $(B)/bench/latency.o $(B)/libearshot.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(B)/bench/report_bench: $(B)/bench/report_bench.o $(B)/libearshot.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# The simulated kiosks of bench/fleet.sh (libmosquitto, a bench tool only).
$(B)/bench/fleet_pub: bench/fleet_pub.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(shell pkg-config --cflags libmosquitto) $< -o $@ $(LDFLAGS) $(shell pkg-config --libs libmosquitto)

$(B)/bench/answer_search: $(B)/bench/answer_search.o $(B)/libearshot.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# webrtc-audio-processing, measured against the speexdsp front end by
# bench/field.sh: a bench tool only, never linked into libearshot, built
# when pkg-config finds the library (Debian libwebrtc-audio-processing-dev).
WEBRTC_FE := $(if $(shell pkg-config --exists webrtc-audio-processing && echo y),$(B)/bench/webrtc_fe)
$(B)/bench/webrtc_fe: bench/webrtc_fe.cc Makefile
	@mkdir -p $(dir $@)
	$(CXX) -std=c++11 $(OPT) -Wall -Wextra $(SANFLAGS) $(patsubst -I%,-isystem %,$(shell pkg-config --cflags webrtc-audio-processing sndfile)) \
	  $< -o $@ $(LDFLAGS) $(shell pkg-config --libs webrtc-audio-processing sndfile)

bench: all $(B)/bench/wer $(B)/bench/eval_intents $(B)/bench/store_bench $(B)/bench/listen_bench $(B)/bench/report_bench $(B)/bench/latency $(WEBRTC_FE)
	bash bench/transcribe.sh $(B)
	bash bench/intent.sh $(B)
	bash bench/store.sh $(B)
	bash bench/listen.sh $(B)
	bash bench/latency.sh $(B)
	bash bench/report.sh $(B)
	bash bench/field.sh $(B)

# The quick start's first command: installs the Debian packages only when
# something is missing, then builds and transcribes the bundled sample.
# Fuzz targets for every parser (grammar files, audio input, the redactor,
# the intent matcher, report JSON), with clang's libFuzzer + ASan/UBSan:
# make fuzz FUZZ_SECONDS=60. Seed corpora are kept in tests/fuzz/<target>/;
# what libFuzzer adds goes to build-fuzz/corpus-<target>/. The library is
# compiled once (fuzzer-no-link) and linked into each target.
# tests/fuzz/lsan.supp suppresses the libvorbis leak inside libsndfile.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := grammar audio redact intent report
FUZZ_CFLAGS := -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -g -O1 -Iplugin -Iaudio \
               -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined $(PKG_CFLAGS) \
               -isystem /usr/include/pocketsphinx -isystem /usr/include/x86_64-linux-gnu/sphinxbase \
               -DEARSHOT_SOURCE_GRAMMAR_DIR=\"$(CURDIR)/grammars/en-us\"
build-fuzz/lib/%.o: %.c $(HEADERS) Makefile
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -c $< -o $@
build-fuzz/libearshot.a: $(LIB_SRC:%.c=build-fuzz/lib/%.o)
	rm -f $@
	ar rcs $@ $^
build-fuzz/fuzz_%: tests/fuzz_%.c build-fuzz/libearshot.a
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer $< build-fuzz/libearshot.a -o $@ $(LIBS)
fuzz: $(FUZZ_TARGETS:%=build-fuzz/fuzz_%)
	@set -e; export LSAN_OPTIONS=suppressions=$(CURDIR)/tests/fuzz/lsan.supp:print_suppressions=0; \
	for t in $(FUZZ_TARGETS); do \
	  mkdir -p build-fuzz/corpus-$$t; \
	  echo "== fuzz_$$t ($(FUZZ_SECONDS) s)"; \
	  build-fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -max_len=$$(case $$t in redact|intent) echo 4096;; *) echo 65536;; esac) \
	    -timeout=20 -rss_limit_mb=2048 build-fuzz/corpus-$$t tests/fuzz/$$t; \
	done

demo:
	@pkg-config --exists $(PKGS) $(BIN_PKGS) cmocka && test -d /usr/share/pocketsphinx/model/en-us/en-us \
	  && test -x /usr/lib/sphinxtrain/bw \
	  && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
	  && (for c in flite sox pocketsphinx_continuous sqlite3 jackd sndfile-jackplay chromium chromedriver python3 \
	        mosquitto mosquitto_sub mosquitto_pub systemd-analyze groff; do \
	        command -v $$c >/dev/null || exit 1; done) \
	  || bash .ci/install-deps
	@$(MAKE) --no-print-directory all
	$(B)/earshot transcribe examples/sample.wav

# Where `make install` puts things. Under /usr the libraries go to the
# multiarch folder (lib/x86_64-linux-gnu), as Debian's own do.
MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null)
ifeq ($(PREFIX),/usr)
LIBDIR  ?= $(PREFIX)/lib/$(MULTIARCH)
else
LIBDIR  ?= $(PREFIX)/lib
endif
INCLUDEDIR ?= $(PREFIX)/include
MANDIR  ?= $(PREFIX)/share/man

# An installed binary or library must not look in the build tree: it is
# linked from its own copy of grammar.o, built without the source-tree
# fallback, and rebuilt when PREFIX changes (the grammar path is baked in).
INST_LIB_OBJ := $(patsubst $(B)/plugin/grammar.o,$(B)/inst/plugin/grammar.o,$(LIB_OBJ))
$(B)/inst/plugin/grammar.o: plugin/grammar.c $(HEADERS) Makefile $(B)/prefix.stamp
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DEARSHOT_NO_SOURCE_GRAMMAR_DIR -c $< -o $@
$(B)/inst/libearshot.a: $(INST_LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^
$(B)/inst/libearshot.so: $(INST_LIB_OBJ) plugin/libearshot.map
	@mkdir -p $(dir $@)
	$(CC) -shared -Wl,-soname,libearshot.so.$(SO_MAJOR) -Wl,--version-script=plugin/libearshot.map $(LDFLAGS) -o $@ $(INST_LIB_OBJ) $(LIBS)
$(B)/inst/earshot: $(BIN_OBJ) $(B)/inst/libearshot.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) $(BIN_LIBS)

# earshot.pc: an app that links libearshot.so needs nothing else on its
# link line; --static adds the libraries libearshot.a itself calls. They
# are listed as plain -l flags (Libs.private), not Requires.private,
# which would make pkg-config demand every -dev package (and drag in
# libsndfile's own private codecs, -lmp3lame among them, which Debian's
# libsndfile1-dev does not ship as static libraries).
$(B)/earshot.pc: Makefile plugin/earshot.h $(B)/prefix.stamp
	@mkdir -p $(dir $@)
	printf '%s\n' 'prefix=$(PREFIX)' 'libdir=$(LIBDIR)' 'includedir=$(INCLUDEDIR)' '' \
	  'Name: earshot' 'Description: offline customer listening (speech, intents, consent, storage, reports)' \
	  "Version: $(VERSION)" 'Cflags: -I$${includedir}' 'Libs: -L$${libdir} -learshot' \
	  'Libs.private: $(filter -l%,$(LIBS))' > $@

install: all $(B)/inst/libearshot.a $(B)/inst/libearshot.so $(B)/inst/earshot $(B)/earshot.pc
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)
	install -m 0755 $(B)/inst/earshot $(DESTDIR)$(PREFIX)/bin/earshot
	install -m 0644 $(B)/inst/libearshot.a $(DESTDIR)$(LIBDIR)/libearshot.a
	install -m 0755 $(B)/inst/libearshot.so $(DESTDIR)$(LIBDIR)/libearshot.so.$(VERSION)
	ln -sf libearshot.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libearshot.so.$(SO_MAJOR)
	ln -sf libearshot.so.$(SO_MAJOR) $(DESTDIR)$(LIBDIR)/libearshot.so
	install -m 0644 plugin/earshot.h $(DESTDIR)$(INCLUDEDIR)/earshot.h
	install -m 0644 $(B)/earshot.pc $(DESTDIR)$(LIBDIR)/pkgconfig/earshot.pc
	install -d $(DESTDIR)$(PREFIX)/share/earshot/grammars/en-us
	install -m 0644 $(wildcard grammars/en-us/*) $(DESTDIR)$(PREFIX)/share/earshot/grammars/en-us/
	install -m 0644 grammars/README.md $(DESTDIR)$(PREFIX)/share/earshot/grammars/README.md

# The man page, written by hand (cli/earshot.1).
.PHONY: install-man uninstall-man
install: install-man
install-man:
	install -d $(DESTDIR)$(MANDIR)/man1
	install -m 0644 cli/earshot.1 $(DESTDIR)$(MANDIR)/man1/earshot.1
uninstall: uninstall-man
uninstall-man:
	rm -f $(DESTDIR)$(MANDIR)/man1/earshot.1
$(B)/install-check/.done: cli/earshot.1
# The systemd unit (examples/systemd/earshot.service, the binary's path
# put in) to $(PREFIX)/lib/systemd/system, and the config file's example
# to $(PREFIX)/share/earshot/earshot.conf.example: never into /etc, so an
# install or upgrade does not overwrite a kiosk's own settings.
SYSTEMD_UNITDIR ?= $(PREFIX)/lib/systemd/system
install: install-systemd
install-systemd: examples/systemd/earshot.service examples/systemd/earshot.conf
	install -d $(DESTDIR)$(SYSTEMD_UNITDIR) $(DESTDIR)$(PREFIX)/share/earshot
	sed 's|@BINDIR@|$(PREFIX)/bin|g' examples/systemd/earshot.service > $(DESTDIR)$(SYSTEMD_UNITDIR)/earshot.service
	chmod 0644 $(DESTDIR)$(SYSTEMD_UNITDIR)/earshot.service
	install -m 0644 examples/systemd/earshot.conf $(DESTDIR)$(PREFIX)/share/earshot/earshot.conf.example
.PHONY: install-systemd

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/earshot $(DESTDIR)$(LIBDIR)/libearshot.a \
	      $(DESTDIR)$(LIBDIR)/libearshot.so $(DESTDIR)$(LIBDIR)/libearshot.so.$(SO_MAJOR) \
	      $(DESTDIR)$(LIBDIR)/libearshot.so.$(VERSION) \
	      $(DESTDIR)$(INCLUDEDIR)/earshot.h $(DESTDIR)$(LIBDIR)/pkgconfig/earshot.pc
	rm -rf $(DESTDIR)$(PREFIX)/share/earshot
	rm -f $(DESTDIR)$(SYSTEMD_UNITDIR)/earshot.service

# make test: install into a staging folder and build the example against
# the installed earshot.pc both ways (shared, then --static), as an app
# would; the staged binary must not name the build tree.
$(B)/install-check/.done: $(LIB_SRC) $(CLI_SRC) $(SERVICE_SRC) $(FLEET_SRC) $(HEADERS) Makefile examples/feed_pcm.c tests/install_check.sh examples/systemd/earshot.service examples/systemd/earshot.conf
	rm -rf $(B)/install-check
	$(MAKE) --no-print-directory install SANITIZE= B=$(B)/install-check/build DESTDIR=$(CURDIR)/$(B)/install-check/stage PREFIX=/usr >/dev/null
	bash tests/install_check.sh $(CURDIR)/$(B)/install-check $(CURDIR)
	touch $@

clean:
	rm -rf build build-san build-fuzz
.SECONDARY:
