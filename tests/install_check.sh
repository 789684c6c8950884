#!/usr/bin/env bash
# The install as an app developer meets it (make test runs this after a
# staged `make install PREFIX=/usr DESTDIR=DIR/stage`):
#  - the documented link lines work against the installed earshot.pc, both
#    shared (pkg-config --libs) and static (pkg-config --libs --static);
#  - the shared library is versioned and exports only earshot_* names;
#  - nothing installed names the build tree.
set -euo pipefail
dir=$1 src=$2
stage=$dir/stage
fail() { echo "install check: $*" >&2; exit 1; }

libdir=$stage/usr/lib/$(cc -print-multiarch)
[ -f "$libdir/pkgconfig/earshot.pc" ] || fail "no earshot.pc in $libdir/pkgconfig (multiarch libdir under /usr)"
version=$(sed -n 's/^#define EARSHOT_VERSION "\(.*\)"/\1/p' "$src/plugin/earshot.h")
[ -f "$libdir/libearshot.so.$version" ] || fail "no libearshot.so.$version"
[ "$(readlink "$libdir/libearshot.so.${version%%.*}")" = "libearshot.so.$version" ] || fail "libearshot.so.${version%%.*} does not point at libearshot.so.$version"
soname=$(objdump -p "$libdir/libearshot.so.$version" | awk '/SONAME/ {print $2}')
[ "$soname" = "libearshot.so.${version%%.*}" ] || fail "soname is '$soname'"
leaked=$(nm -D --defined-only "$libdir/libearshot.so.$version" | awk '{print $3}' | grep -v '^earshot_[a-z]' || true)
[ -z "$leaked" ] || fail "libearshot.so exports non-API symbols: $(echo $leaked | head -c 200)"
nm -D --defined-only "$libdir/libearshot.so.$version" | grep -q ' earshot_open$' || fail "earshot_open not exported"

# pkg-config sees the staged tree as if it were installed at /usr.
export PKG_CONFIG_PATH=$libdir/pkgconfig PKG_CONFIG_SYSROOT_DIR=$stage PKG_CONFIG_LIBDIR=$libdir/pkgconfig:/usr/lib/$(cc -print-multiarch)/pkgconfig:/usr/share/pkgconfig
for mode in shared static; do
    flags=$(pkg-config --cflags --libs $([ $mode = static ] && echo --static) earshot) || fail "pkg-config ($mode) failed"
    out=$dir/feed_pcm-$mode
    if [ $mode = static ]; then
        # Static: libearshot.a, found before the .so by naming it.
        cc -std=c11 "$src/examples/feed_pcm.c" -o "$out" $(echo "$flags" | sed "s|-learshot|$libdir/libearshot.a|") \
            || fail "static link failed: cc feed_pcm.c $flags"
    else
        cc -std=c11 "$src/examples/feed_pcm.c" -o "$out" $flags || fail "shared link failed: cc feed_pcm.c $flags"
    fi
    run=("$out" "$src/examples/sample.wav")
    [ $mode = shared ] && run=(env LD_LIBRARY_PATH="$libdir" "${run[@]}")
    # Run from elsewhere, pointing the grammar at the staged copy: an
    # installed program must work without the build tree.
    n=$(cd / && EARSHOT_GRAMMAR_DIR="$stage/usr/share/earshot/grammars/en-us" "${run[@]}" | grep -c . || true)
    [ "$n" -ge 2 ] || fail "feed_pcm ($mode) printed $n lines"
done
# The shared build really uses the .so; the static one does not need it.
ldd "$dir/feed_pcm-shared" 2>/dev/null | grep -q 'libearshot.so' || true
ldd "$dir/feed_pcm-static" | grep -q libearshot && fail "static build still needs libearshot.so"

# Debug information may name the sources; what the program uses at run
# time (its stripped text and data) must not.
for f in "$stage/usr/bin/earshot" "$libdir/libearshot.so.$version"; do
    strip -o "$dir/stripped" "$f"
    if grep -aq "$src" "$dir/stripped"; then fail "$f names the build tree ($src)"; fi
done
EARSHOT_GRAMMAR_DIR= "$stage/usr/bin/earshot" grammar check >/dev/null 2>&1 \
    && fail "the installed earshot found a grammar folder that is not installed (the build tree?)"
EARSHOT_GRAMMAR_DIR="$stage/usr/share/earshot/grammars/en-us" "$stage/usr/bin/earshot" grammar check >/dev/null 2>&1 \
    || fail "the installed earshot cannot check its installed grammar"

# The man page is installed and renders without a warning.
man1="$stage/usr/share/man/man1/earshot.1"
[ -f "$man1" ] || fail "the man page is not installed ($man1)"
warn=$(groff -man -Tutf8 -ww "$man1" 2>&1 >/dev/null)
[ -z "$warn" ] || fail "the man page does not render cleanly: $warn"
groff -man -Tutf8 "$man1" 2>/dev/null | grep -q 'offline customer listening' || fail "the man page renders empty"

echo "install check: earshot.pc shared and static links, soname, exports, no build-tree paths: ok"
