#!/usr/bin/env bash
# Builds a release of sbs and checks it against its budgets:
#
#   scripts/build-release.sh [--version V] [--output DIR] [--base-url URL] [--report-budgets]
#
# writes, flat in DIR (default: release/), the layout a mirror serves (SBS_BASE_URL points at it):
#   sbs-V-linux-ARCH.tar.gz   sbs-V-linux-ARCH/{sbs, LICENSE, completions/{sbs.bash,_sbs,sbs.fish}}
#   SHA256SUMS                one line per tarball in DIR (earlier releases in DIR stay listed)
#   install.sh                the bootstrap, with V as the version it installs by default and URL (the address
#                             this folder is served at) as its default SBS_BASE_URL
#
# The binary is built in release mode with the Swift runtime linked statically (--static-swift-stdlib) and
# stripped; steps/ and assets/ are compiled in, so it runs alone. V defaults to the checkout's tag (vX.Y.Z) or to
# the development version in Sources/sbs/Version.swift. The version and commit are written into a copy of the
# sources under .build-release/src (synchronised file by file, so rebuilds stay incremental); the checkout is
# never modified.
#
# Budgets (the script fails, and so CI fails, when one is exceeded; with --report-budgets, as `install.sh
# --from-source` builds on a user's machine of any speed, they are printed and not enforced):
#   tarball at most 25 MB (25,000,000 bytes), gzipped; no ICU data in the binary (Foundation links it)
#   no GLIBC symbol version newer than 2.35 (Ubuntu 22.04), by objdump -T
#   `sbs --version` starts in under 20 ms of CPU time (user + system; median of 21 runs after 3 warm-ups, the best
#   of up to five such rounds); the wall time is printed beside it
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

version=""
output="release"
base_url=""
report_only=0
while [ $# -gt 0 ]; do
    case "$1" in
        --version) version=${2:?--version needs a value}; shift 2 ;;
        --version=*) version=${1#--version=}; shift ;;
        --output) output=${2:?--output needs a folder}; shift 2 ;;
        --output=*) output=${1#--output=}; shift ;;
        --base-url) base_url=${2:?--base-url needs a URL}; shift 2 ;;
        --base-url=*) base_url=${1#--base-url=}; shift ;;
        --report-budgets) report_only=1; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "build-release.sh: unknown argument: $1" >&2; exit 64 ;;
    esac
done

# The budgets. The variables exist to test the checks themselves (scripts/test/release-tests.sh tightens them and
# expects a failure); CI does not set them.
max_tarball_bytes=${SBS_BUDGET_TARBALL_BYTES:-25000000} # 25 MB
max_glibc=${SBS_BUDGET_GLIBC:-2.35}
max_startup_ms=${SBS_BUDGET_STARTUP_MS:-20}

say() { printf '%s\n' "build-release: $*" >&2; }
fail() { printf '%s\n' "build-release: FAILED: $*" >&2; exit 1; }

for tool in git swift strip objdump sha256sum tar gzip python3; do
    command -v "$tool" >/dev/null 2>&1 || fail "$tool is missing (scripts/ci-setup.sh installs the tools)"
done

commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
if [ "$commit" != unknown ] && [ -n "$(git status --porcelain --untracked-files=normal 2>/dev/null)" ]; then
    commit="$commit-dirty"
fi
if [ -z "$version" ]; then
    version=$(git describe --tags --exact-match --match 'v[0-9]*' 2>/dev/null | sed 's/^v//' || true)
fi
if [ -z "$version" ]; then
    version=$(sed -n 's/^ *static let version = "\(.*\)"$/\1/p' Sources/sbs/Version.swift)
fi
# The version becomes part of a file name and of a Swift string literal.
printf '%s' "$version" | grep -Eq '^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]*)?$' \
    || fail "version '$version' is not of the form X.Y.Z[-suffix]"

case "$base_url" in
    "" | https://* | file:///*) ;;
    *) fail "--base-url must be https:// (or file:///): $base_url" ;;
esac
printf '%s' "$base_url" | grep -q '["$`\\|]' && fail "--base-url must not contain quotes, \$, \`, \\ or |"

arch=$(uname -m)
case "$arch" in
    x86_64|aarch64) ;;
    *) fail "unsupported architecture $arch" ;;
esac
name="sbs-$version-linux-$arch"
say "building $name (commit $commit)"

# --- the source copy -------------------------------------------------------------------------------------------
work="$repo/.build-release"
src="$work/src"
mkdir -p "$src"
# Tracked files and new files not ignored, i.e. what the checkout would build. A file is copied only when its
# content differs, so unchanged files keep their timestamps and the build stays incremental.
wanted="$work/files.txt"
git ls-files -co --exclude-standard -z | tr '\0' '\n' | grep -v '^$' | LC_ALL=C sort >"$wanted"
while IFS= read -r file; do
    [ -f "$file" ] || continue # deleted in the work tree, not yet in the index
    if ! cmp -s "$file" "$src/$file"; then
        mkdir -p "$src/$(dirname "$file")"
        cp -p "$file" "$src/$file"
    fi
done <"$wanted"
# Files no longer in the checkout leave the copy too.
(cd "$src" && find . -type f ! -path './Package.resolved' | sed 's|^\./||' | LC_ALL=C sort) \
    | LC_ALL=C comm -23 - "$wanted" | while IFS= read -r stale; do rm -f "$src/$stale"; done
# Build with the dependency versions the checkout resolved, when it has resolved them.
if [ -f Package.resolved ] && ! cmp -s Package.resolved "$src/Package.resolved"; then
    cp -p Package.resolved "$src/Package.resolved"
fi

version_file="$src/Sources/sbs/Version.swift"
[ -f "$version_file" ] || fail "Sources/sbs/Version.swift is missing"
new_version_file="$work/Version.swift"
sed -e "s/^\( *static let version = \)\".*\"$/\1\"$version\"/" \
    -e "s/^\( *static let commit = \)\".*\"$/\1\"$commit\"/" "$version_file" >"$new_version_file"
grep -q "static let version = \"$version\"" "$new_version_file" || fail "could not write the version into Version.swift"
grep -q "static let commit = \"$commit\"" "$new_version_file" || fail "could not write the commit into Version.swift"
if cmp -s "$new_version_file" "$version_file"; then rm -f "$new_version_file"; else mv "$new_version_file" "$version_file"; fi

# --- build -----------------------------------------------------------------------------------------------------
# -Osize: an installer gains nothing from -O's larger code.
build=(swift build -c release --static-swift-stdlib -Xswiftc -Osize --package-path "$src" --scratch-path "$work/scratch")
"${build[@]}" --product sbs
built="$("${build[@]}" --show-bin-path)/sbs"
[ -x "$built" ] || fail "the build produced no binary at $built"

stage="$work/stage"
rm -rf "$stage"
mkdir -p "$stage/$name/completions"
cp "$built" "$stage/$name/sbs"
strip --strip-all "$stage/$name/sbs"
binary="$stage/$name/sbs"
cp LICENSE "$stage/$name/LICENSE"

reported=$("$binary" --version)
[ "$reported" = "$version (commit $commit)" ] || fail "sbs --version says '$reported', expected '$version (commit $commit)'"
"$binary" --generate-completion-script bash >"$stage/$name/completions/sbs.bash"
"$binary" --generate-completion-script zsh >"$stage/$name/completions/_sbs"
"$binary" --generate-completion-script fish >"$stage/$name/completions/sbs.fish"
for completion in sbs.bash _sbs sbs.fish; do
    grep -q install "$stage/$name/completions/$completion" || fail "completion $completion does not name the install command"
done

# --- package ---------------------------------------------------------------------------------------------------
mkdir -p "$output"
output=$(cd "$output" && pwd)
tarball="$output/$name.tar.gz"
epoch=$(git log -1 --format=%ct 2>/dev/null || date +%s)
# Reproducible: fixed order, owners and times; gzip without a name or time stamp.
tar -C "$stage" --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$epoch" \
    --mode='u+rwX,go+rX,go-w' -cf - "$name" | gzip -9 -n >"$tarball.tmp"
mv "$tarball.tmp" "$tarball"
(cd "$output" && find . -maxdepth 1 -name 'sbs-*-linux-*.tar.gz' -printf '%f\n' | LC_ALL=C sort \
    | xargs -r sha256sum >SHA256SUMS.tmp && mv SHA256SUMS.tmp SHA256SUMS)
sed -e "s/^SBS_RELEASE_VERSION=\"\"$/SBS_RELEASE_VERSION=\"$version\"/" \
    -e "s|^SBS_RELEASE_BASE_URL=\"\"$|SBS_RELEASE_BASE_URL=\"$base_url\"|" install.sh >"$output/install.sh.tmp"
grep -q "^SBS_RELEASE_VERSION=\"$version\"$" "$output/install.sh.tmp" || fail "could not write the version into install.sh"
grep -q "^SBS_RELEASE_BASE_URL=\"$base_url\"$" "$output/install.sh.tmp" || fail "could not write the base URL into install.sh"
chmod 0755 "$output/install.sh.tmp"
mv "$output/install.sh.tmp" "$output/install.sh"

# --- budgets ---------------------------------------------------------------------------------------------------
failures=0
over() { printf '%s\n' "build-release: OVER BUDGET: $*" >&2; failures=$((failures + 1)); }

tarball_bytes=$(stat -c %s "$tarball")
binary_bytes=$(stat -c %s "$binary")
unpacked_bytes=$(du -sb "$stage/$name" | cut -f1)
[ "$tarball_bytes" -le "$max_tarball_bytes" ] || over "tarball is $tarball_bytes bytes, the budget is $max_tarball_bytes"
# ICU's data (icudtNNl, about 30 MB) comes with Foundation: the product imports FoundationEssentials only.
if LC_ALL=C grep -q -a 'icudt[0-9][0-9]l' "$binary"; then
    over "the binary holds ICU's data: a product target imports Foundation (use FoundationEssentials)"
fi

glibc=$(objdump -T "$binary" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1)
[ -n "$glibc" ] || over "objdump -T found no GLIBC symbol versions (is the binary dynamic?)"
if [ -n "$glibc" ] && [ "$(printf '%s\n%s\n' "$glibc" "$max_glibc" | sort -V | tail -1)" != "$max_glibc" ]; then
    over "needs GLIBC_$glibc, the budget is GLIBC_$max_glibc: $(objdump -T "$binary" | grep "GLIBC_$glibc" | awk '{print $NF}' | tr '\n' ' ')"
fi
glibcxx=$(objdump -T "$binary" | grep -o 'GLIBCXX_[0-9][0-9.]*' | sed 's/GLIBCXX_//' | sort -uV | tail -1 || true)
needed=$(objdump -p "$binary" | awk '$1 == "NEEDED" {print $2}' | tr '\n' ' ')

# The budget is the start-up's own cost: the CPU time (user + system) of `sbs --version`, which other work on
# the machine does not inflate as it does the wall time (that is printed beside it).
read -r startup_ms wall_ms < <(python3 - "$binary" "$max_startup_ms" <<'PY'
import os, statistics, subprocess, sys, time
binary, budget = sys.argv[1], float(sys.argv[2])
def once():
    start = time.perf_counter()
    child = subprocess.Popen([binary, "--version"], stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    wall = (time.perf_counter() - start) * 1000
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        sys.exit(f"sbs --version exited with {child.returncode}")
    return (usage.ru_utime + usage.ru_stime) * 1000, wall
for _ in range(3):
    once()
# Up to five rounds, the best median counts: a busy machine slows a round, a slow binary slows all five.
best, best_wall = float("inf"), float("inf")
for _ in range(5):
    runs = [once() for _ in range(21)]
    best = min(best, statistics.median(cpu for cpu, _ in runs))
    best_wall = min(best_wall, statistics.median(wall for _, wall in runs))
    if best < budget:
        break
print(f"{best:.1f} {best_wall:.1f}")
PY
)
python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < float(sys.argv[2]) else 1)" "$startup_ms" "$max_startup_ms" \
    || over "sbs --version takes $startup_ms ms of CPU time (median; $wall_ms ms wall), the budget is under $max_startup_ms ms"

mb() { awk -v b="$1" 'BEGIN { printf "%.2f MB = %.2f MiB", b / 1000000, b / 1048576 }'; }
cat <<EOF
release:   $tarball
version:   $reported
tarball:   $(mb "$tarball_bytes") gzipped (budget $(mb "$max_tarball_bytes")), $(mb "$unpacked_bytes") unpacked, binary $(mb "$binary_bytes")
glibc:     GLIBC_$glibc at most (budget GLIBC_$max_glibc)${glibcxx:+, GLIBCXX_$glibcxx}
needs:     $needed
start-up:  sbs --version $startup_ms ms CPU time, $wall_ms ms wall (medians of 21 runs, best round; budget under $max_startup_ms ms CPU)
checksums: $output/SHA256SUMS
EOF
if [ "$failures" -gt 0 ] && [ "$report_only" = 1 ]; then
    say "$failures budget(s) exceeded (reported only: --report-budgets)"
    exit 0
fi
[ "$failures" -eq 0 ] || fail "$failures budget(s) exceeded"
