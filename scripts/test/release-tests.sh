#!/usr/bin/env bash
# Release tests, with real parts only: builds two releases (scripts/build-release.sh, budgets enforced), serves
# them from a loopback HTTP server (python3 -m http.server on a free port), and runs install.sh against them:
#   - under dash and under bash, piped as `curl … | sh`, into temporary prefixes (curl, and wget without curl);
#   - a tampered tarball, a tampered checksum line, a missing or doubled line: refused, nothing installed;
#   - scripts/test/install-sh-tests.sh, on a fake release: hostile SBS_BASE_URL (a host hidden from the loopback
#     check, credentials, queries, '..'), SBS_VERSION, SBS_PREFIX and TMPDIR values, and a bin/sbs that is not a
#     regular file: refused before any request, nothing changed, no credential printed;
#   - non-loopback http://, other schemes: refused before any download; https:// from a loopback TLS server with
#     a throw-away certificate: installs when curl trusts it, refused when not, a redirect to http:// not followed;
#   - the script cut short at every line and at every byte of its last lines: runs nothing, requests nothing;
#   - no terminal: prints the non-interactive command; a terminal (tmux + docker -it): the wizard asks there;
#   - a second run upgrades in place, the state untouched, `sbs status` reads it;
#   - on the local Docker engine (scripts/test/docker-env.sh): the installed binary runs `sbs --version` and
#     `sbs plan` in a Debian container that has only libcurl4, libedit2 and ca-certificates added to the
#     debootstrapped base; and in the bare base, install.sh installs those itself, waiting for a held dpkg lock.
# Prints one line per check and ends with "N passed, N failed"; exits non-zero when a check failed.
#
#   scripts/test/release-tests.sh          (SBS_SKIP_SETUP=1 skips scripts/ci-setup.sh; SBS_KEEP_TEST_DIR=1 keeps
#                                           the scratch folder)
set -uo pipefail
# shellcheck source=scripts/test/env-lib.sh
. "$(dirname "$0")/env-lib.sh"
cd "$(dirname "$0")/../.." || exit 1

passed=0
failed=0
pass() { passed=$((passed + 1)); printf 'PASS  %s\n' "$1"; }
fail() {
    failed=$((failed + 1))
    printf 'FAIL  %s\n' "$1"
    if [ $# -gt 1 ]; then printf '%s\n' "$2" | tail -n 25 | sed 's/^/      | /'; fi
}
finish() {
    printf '\n%s passed, %s failed\n' "$passed" "$failed"
    [ "$failed" -eq 0 ]
    exit
}
# expect NAME OUTPUT CONDITION...: the conditions are `test` expressions or commands, all must hold.
contains() { printf '%s' "$1" | grep -qF -- "$2"; }

[ "${SBS_SKIP_SETUP:-0}" = 1 ] || scripts/ci-setup.sh >/dev/null || { fail "scripts/ci-setup.sh"; finish; }

tmp=$(mktemp -d /tmp/sbs-release-tests.XXXXXX)
http_pid=""
https_pid=""
containers=()
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    [ -z "$http_pid" ] || kill "$http_pid" 2>/dev/null
    [ -z "$https_pid" ] || kill "$https_pid" 2>/dev/null
    tmux kill-session -t "sbs-release-tty-$$" 2>/dev/null
    for container in "${containers[@]}"; do docker rm -f "$container" >/dev/null 2>&1; done
    scripts/test/docker-env.sh stop "$tmp/docker" 2>/dev/null
    if [ "${SBS_KEEP_TEST_DIR:-0}" = 1 ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

commit=$(git rev-parse --short=12 HEAD)
[ -z "$(git status --porcelain --untracked-files=normal)" ] || commit="$commit-dirty"
v1=0.1.0-test.1
v2=0.1.0-test.2
www=$tmp/www
mirror=$www/good
mkdir -p "$www" "$tmp/tmpdirs"

# --- the scripts ---------------------------------------------------------------------------------------------------
mine=(install.sh scripts/build-release.sh scripts/test/docker-env.sh scripts/test/release-tests.sh scripts/test/install-sh-tests.sh .ci/run)
if lint=$(shellcheck -x "${mine[@]}" 2>&1) && lint_dash=$(shellcheck --shell=dash install.sh 2>&1); then
    pass "shellcheck: install.sh (as sh and as dash) and the release scripts are clean"
else
    fail "shellcheck: install.sh and the release scripts are clean" "$lint ${lint_dash:-}"
fi
if dash -n install.sh && bash -n install.sh && bash --posix -n install.sh; then
    pass "install.sh parses under dash, bash and bash --posix"
else
    fail "install.sh parses under dash, bash and bash --posix"
fi
if [ "$(tail -n 1 install.sh)" = 'sbs_install_sh "$@" --sbs-install-sh-complete' ] \
    && ! sed '$d' install.sh | grep -Ev '^(#|$|SBS_RELEASE_(VERSION|BASE_URL)=""$|[a-z0-9_]+\(\) \{$|[ }])' | grep -q .; then
    pass "install.sh: only definitions at the top level, the one call on the last line"
else
    fail "install.sh: only definitions at the top level, the one call on the last line" \
        "$(sed '$d' install.sh | grep -Ev '^(#|$|SBS_RELEASE_(VERSION|BASE_URL)=""$|[a-z0-9_]+\(\) \{$|[ }])')"
fi

# Hostile settings and install locations, against a fake release (seconds; scripts/test/install-sh-tests.sh alone
# runs them while working on install.sh).
if hostile=$(scripts/test/install-sh-tests.sh 2>&1); then
    pass "install.sh refuses hostile URLs, versions, prefixes and install locations before any request ($(tail -n 1 <<<"$hostile"))"
else
    fail "install.sh refuses hostile URLs, versions, prefixes and install locations before any request" \
        "$(grep '^FAIL' <<<"$hostile"; tail -n 1 <<<"$hostile")"
fi

# --- the release -------------------------------------------------------------------------------------------------
started=$(date +%s)
for version in "$v1" "$v2"; do
    if scripts/build-release.sh --version "$version" --output "$mirror" >"$tmp/build-$version.log" 2>&1; then
        pass "release $version builds within its budgets ($(($(date +%s) - started)) s)"
    else
        fail "release $version builds within its budgets" "$(cat "$tmp/build-$version.log")"
        finish
    fi
done
sed -n '/^release:/,$p' "$tmp/build-$v2.log" | sed 's/^/      /'

tarball=$mirror/sbs-$v1-linux-x86_64.tar.gz
listing=$(tar -tzf "$tarball" | LC_ALL=C sort | tr '\n' ' ')
expected_listing="sbs-$v1-linux-x86_64/ sbs-$v1-linux-x86_64/LICENSE sbs-$v1-linux-x86_64/completions/ sbs-$v1-linux-x86_64/completions/_sbs sbs-$v1-linux-x86_64/completions/sbs.bash sbs-$v1-linux-x86_64/completions/sbs.fish sbs-$v1-linux-x86_64/sbs "
if [ "$listing" = "$expected_listing" ]; then pass "tarball holds the binary, LICENSE and three completions"; else fail "tarball holds the binary, LICENSE and three completions" "$listing"; fi

if sums=$(cd "$mirror" && sha256sum -c SHA256SUMS 2>&1) && [ "$(wc -l <"$mirror/SHA256SUMS")" -eq 2 ]; then pass "SHA256SUMS lists and matches both tarballs"; else fail "SHA256SUMS lists and matches both tarballs" "$sums"; fi

mkdir -p "$tmp/unpacked"
tar -xzf "$tarball" -C "$tmp/unpacked"
reported=$("$tmp/unpacked/sbs-$v1-linux-x86_64/sbs" --version 2>&1)
if [ "$reported" = "$v1 (commit $commit)" ]; then pass "sbs --version names the version and commit: $reported"; else fail "sbs --version names the version and commit" "got '$reported', expected '$v1 (commit $commit)'"; fi
if ! git status --porcelain | grep -q 'Version.swift'; then pass "building a release leaves the checkout unmodified"; else fail "building a release leaves the checkout unmodified" "$(git status --porcelain)"; fi

# The budget checks themselves: tightened budgets must fail the build (nothing is recompiled).
over=$(SBS_BUDGET_TARBALL_BYTES=1000 SBS_BUDGET_GLIBC=2.17 SBS_BUDGET_STARTUP_MS=0.01 \
    scripts/build-release.sh --version "$v2" --output "$tmp/over-budget" 2>&1)
status=$?
if [ $status -ne 0 ] && [ "$(printf '%s\n' "$over" | grep -c 'OVER BUDGET')" -eq 3 ]; then
    pass "build-release.sh fails on each exceeded budget (size, GLIBC, start-up)"
else
    fail "build-release.sh fails on each exceeded budget (size, GLIBC, start-up)" "exit $status; $over"
fi

# --- a loopback mirror -------------------------------------------------------------------------------------------
start_loopback_http "$www" "$tmp/http.log" || { fail "loopback HTTP server starts" "$(cat "$tmp/http.log")"; finish; }
port=$http_port
base=http://127.0.0.1:$port
# Requests for the release itself (install.sh is fetched by the tests' own curl).
requests() { grep '"GET ' "$tmp/http.log" | grep -vc '/install\.sh '; }

# install NAME SHELL PREFIX BASE_URL VERSION [ARG…]: curl URL/install.sh | SHELL -s -- ARG…, output in $out.
install_piped() {
    local name=$1 shell=$2 prefix=$3 url=$4 version=$5
    shift 5
    mkdir -p "$tmp/tmpdirs/$name"
    out=$(curl -fsS "$base/good/install.sh" | TMPDIR="$tmp/tmpdirs/$name" SBS_BASE_URL="$url" SBS_PREFIX="$prefix" \
        SBS_VERSION="$version" "$shell" -s -- "$@" 2>&1)
}
tmp_left() { [ -z "$(ls -A "$tmp/tmpdirs/$1")" ]; }

prefix=$tmp/prefix-dash
install_piped dash dash "$prefix" "$base/good" "$v1" --no-run
status=$?
if [ $status -eq 0 ] && [ "$("$prefix/bin/sbs" --version 2>&1)" = "$v1 (commit $commit)" ] && contains "$out" "checksum verified" \
    && tmp_left dash; then
    pass "curl | dash installs $v1 into a temporary prefix (checksum verified, no temporary files left)"
else
    fail "curl | dash installs $v1 into a temporary prefix" "exit $status; $out"
fi
if [ -f "$prefix/share/bash-completion/completions/sbs" ] && [ -f "$prefix/share/zsh/site-functions/_sbs" ] \
    && [ -f "$prefix/share/fish/vendor_completions.d/sbs.fish" ] \
    && bash -c "source '$prefix/share/bash-completion/completions/sbs' && complete -p sbs" >/dev/null 2>&1; then
    pass "completions installed beside the system's (bash loads its own)"
else
    fail "completions installed beside the system's" "$(find "$prefix" | sort)"
fi

prefix=$tmp/prefix-bash
install_piped bash bash "$prefix" "$base/good" "" --no-run
status=$?
if [ $status -eq 0 ] && [ "$("$prefix/bin/sbs" --version 2>&1)" = "$v2 (commit $commit)" ] && tmp_left bash; then
    pass "curl | bash installs the release the served script names ($v2)"
else
    fail "curl | bash installs the release the served script names ($v2)" "exit $status; $out"
fi

prefix=$tmp/prefix-file
out=$(TMPDIR="$tmp" SBS_BASE_URL="file://$mirror" SBS_PREFIX="$prefix" dash install.sh --no-run 2>&1)
status=$?
if [ $status -eq 0 ] && [ "$("$prefix/bin/sbs" --version 2>&1)" = "$v2 (commit $commit)" ]; then
    pass "the checkout's install.sh from a file:// folder installs the newest release listed ($v2)"
else
    fail "the checkout's install.sh from a file:// folder installs the newest release listed" "exit $status; $out"
fi

# --from-source: the checkout's own build (the release build above left it up to date for $v2).
prefix=$tmp/prefix-source
out=$(TMPDIR="$tmp" SBS_PREFIX="$prefix" SBS_VERSION="$v2" dash install.sh --from-source --no-run 2>&1)
status=$?
if [ $status -eq 0 ] && [ "$("$prefix/bin/sbs" --version 2>&1)" = "$v2 (commit $commit)" ] && contains "$out" "building sbs from $PWD"; then
    pass "install.sh --from-source builds the checkout and installs it"
else
    fail "install.sh --from-source builds the checkout and installs it" "exit $status; $out"
fi

# wget when there is no curl: a PATH with every command but curl.
nocurl=$tmp/path-without-curl
mkdir -p "$nocurl"
for dir in /usr/local/sbin /usr/local/bin /usr/sbin /usr/bin /sbin /bin; do
    [ -d "$dir" ] || continue
    for tool in "$dir"/*; do
        name=${tool##*/}
        [ "$name" = curl ] || [ -e "$nocurl/$name" ] || ln -s "$tool" "$nocurl/$name"
    done
done
prefix=$tmp/prefix-wget
before=$(requests)
out=$(curl -fsS "$base/good/install.sh" | PATH=$nocurl SBS_BASE_URL="$base/good" SBS_PREFIX="$prefix" SBS_VERSION="$v1" dash -s -- --no-run 2>&1)
status=$?
if [ $status -eq 0 ] && [ "$("$prefix/bin/sbs" --version 2>&1)" = "$v1 (commit $commit)" ] && [ "$(requests)" -eq $((before + 2)) ] \
    && ! PATH=$nocurl command -v curl >/dev/null; then
    pass "without curl, wget downloads (2 requests) and the install succeeds"
else
    fail "without curl, wget downloads and the install succeeds" "exit $status; $out"
fi

# --- refusals: nothing installed, nothing left behind --------------------------------------------------------------
# refused NAME MESSAGE URL VERSION: install.sh exits non-zero, says MESSAGE, creates nothing under its prefix.
refused() {
    local name=$1 message=$2 url=$3 version=$4 prefix=$tmp/prefix-refused-$1
    install_piped "refused-$name" dash "$prefix" "$url" "$version" --no-run
    local status=$?
    if [ $status -ne 0 ] && contains "$out" "$message" && [ ! -e "$prefix" ] && tmp_left "refused-$name"; then
        pass "refused, nothing installed: $name"
    else
        fail "refused, nothing installed: $name" "exit $status; prefix $(find "$prefix" 2>/dev/null | tr '\n' ' '); $out"
    fi
}
variant() { rm -rf "${www:?}/$1"; cp -r "$mirror" "$www/$1"; }

variant bad-tarball
# One byte changed in the middle of the tarball (to another value than it had: writing a fixed 'X' left the file as it
# was whenever that byte already was one).
middle=$(($(stat -c %s "$tarball") / 2))
byte=$(dd if="$tarball" bs=1 skip="$middle" count=1 status=none | od -An -tu1 | tr -d ' ')
# shellcheck disable=SC2059 # the format is the octal escape of the new byte
printf "\\$(printf %o $(((byte + 1) % 256)))" | dd of="$www/bad-tarball/sbs-$v1-linux-x86_64.tar.gz" bs=1 seek="$middle" conv=notrunc status=none
if cmp -s "$tarball" "$www/bad-tarball/sbs-$v1-linux-x86_64.tar.gz"; then fail "tampered tarball differs"; fi
refused "tampered tarball" "checksum mismatch" "$base/bad-tarball" "$v1"

variant bad-sum
sed -i "/sbs-$v1-/s/^\(.\)/$(sed -n "/sbs-$v1-/s/^\(.\).*/\1/p" "$mirror/SHA256SUMS" | tr '0-9a-f' '1-9a-f0')/" "$www/bad-sum/SHA256SUMS"
if cmp -s "$mirror/SHA256SUMS" "$www/bad-sum/SHA256SUMS"; then fail "tampered checksum line differs"; fi
refused "tampered checksum line" "checksum mismatch" "$base/bad-sum" "$v1"

variant double-line
grep "sbs-$v1-" "$mirror/SHA256SUMS" | sed 's/^\(.\{63\}\)./\10/' >>"$www/double-line/SHA256SUMS"
refused "tarball listed twice in SHA256SUMS" "more than once" "$base/double-line" "$v1"
refused "version not listed in SHA256SUMS" "does not list sbs-9.9.9-linux-x86_64.tar.gz" "$base/good" "9.9.9"
refused "missing SHA256SUMS" "download failed" "$base/nothing-here" "$v1"
before=$(requests)
refused "plain http to a non-loopback host" "accepted only for a loopback address" "http://sbs-mirror.invalid/releases" "$v1"
refused "ftp://" "only https://" "ftp://127.0.0.1/releases" "$v1"
refused "relative file:// path" "absolute path" "file://relative/folder" "$v1"
if [ "$(requests)" -eq "$before" ]; then pass "refused locations are never contacted"; else fail "refused locations are never contacted"; fi

# --- HTTPS: a loopback TLS server with a throw-away certificate -------------------------------------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/tls-key.pem" -out "$tmp/tls-cert.pem" \
    -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1,DNS:localhost -days 1 >/dev/null 2>&1
cat >"$tmp/https-server.py" <<'EOF'
# Serves a folder over TLS on a free loopback port; /redirect/PATH answers 302 to REDIRECT_BASE/PATH.
import functools, http.server, ssl, sys
directory, cert, key, redirect_base = sys.argv[1:5]
class Handler(http.server.SimpleHTTPRequestHandler):
    def do_GET(self):
        if self.path.startswith("/redirect/"):
            self.send_response(302)
            self.send_header("Location", redirect_base + self.path[len("/redirect"):])
            self.end_headers()
            return
        super().do_GET()
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=directory))
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
server.socket = context.wrap_socket(server.socket, server_side=True)
print(f"port {server.server_address[1]}", flush=True)
server.serve_forever()
EOF
python3 -u "$tmp/https-server.py" "$www" "$tmp/tls-cert.pem" "$tmp/tls-key.pem" "$base" >"$tmp/https.log" 2>&1 &
https_pid=$!
https_port=""
for _ in $(seq 50); do
    https_port=$(sed -n 's/^port \([0-9][0-9]*\)$/\1/p' "$tmp/https.log")
    [ -z "$https_port" ] || break
    sleep 0.1
done
https_base=https://127.0.0.1:$https_port
prefix=$tmp/prefix-https
out=$(CURL_CA_BUNDLE="$tmp/tls-cert.pem" SBS_BASE_URL="$https_base/good" SBS_PREFIX="$prefix" SBS_VERSION="$v1" dash install.sh --no-run 2>&1)
status=$?
if [ $status -eq 0 ] && [ "$("$prefix/bin/sbs" --version 2>&1)" = "$v1 (commit $commit)" ]; then
    pass "an https:// mirror whose certificate curl trusts: installs"
else
    fail "an https:// mirror whose certificate curl trusts: installs" "exit $status; $(cat "$tmp/https.log"); $out"
fi
prefix=$tmp/prefix-https-untrusted
out=$(SBS_BASE_URL="$https_base/good" SBS_PREFIX="$prefix" SBS_VERSION="$v1" dash install.sh --no-run 2>&1)
status=$?
if [ $status -ne 0 ] && contains "$out" "download failed" && [ ! -e "$prefix" ]; then
    pass "refused, nothing installed: an https:// mirror with an untrusted certificate"
else
    fail "refused, nothing installed: an https:// mirror with an untrusted certificate" "exit $status; $out"
fi
prefix=$tmp/prefix-https-redirect
before=$(requests)
out=$(CURL_CA_BUNDLE="$tmp/tls-cert.pem" SBS_BASE_URL="$https_base/redirect/good" SBS_PREFIX="$prefix" SBS_VERSION="$v1" dash install.sh --no-run 2>&1)
status=$?
if [ $status -ne 0 ] && contains "$out" "download failed" && [ ! -e "$prefix" ] && [ "$(requests)" -eq "$before" ]; then
    pass "refused, nothing installed: an https:// mirror redirecting to plain http (not followed)"
else
    fail "refused, nothing installed: an https:// mirror redirecting to plain http" "exit $status; $out"
fi
kill "$https_pid" 2>/dev/null

# --- a script cut short does nothing -------------------------------------------------------------------------------
script=$mirror/install.sh
size=$(stat -c %s "$script")
offsets=$( {
    awk '{ total += length($0) + 1; print total }' "$script"        # every line end
    seq $((size > 200 ? size - 200 : 0)) "$size"                     # every byte of the last lines
    seq 0 97 "$size"                                                 # and a spread of bytes elsewhere
} | awk -v size="$size" '$1 < size - 1' | sort -un)   # size - 1 lacks only the final newline: complete
count=0
before=$(requests)
prefix=$tmp/prefix-truncated
for offset in $offsets; do
    for shell in dash bash; do
        head -c "$offset" "$script" | SBS_BASE_URL="$base/good" SBS_PREFIX="$prefix" "$shell" -s -- --no-run >/dev/null 2>&1
        count=$((count + 1))
    done
done
if [ "$count" -gt 400 ] && [ ! -e "$prefix" ] && [ "$(requests)" -eq "$before" ]; then
    pass "cut short at $((count / 2)) places, under dash and bash: nothing requested, nothing installed"
else
    fail "cut short: nothing requested, nothing installed" "$count runs; $(($(requests) - before)) requests; $(find "$prefix" 2>/dev/null | head)"
fi
# The same harness on the whole script does install: the check above can see an install.
SBS_BASE_URL="$base/good" SBS_PREFIX="$prefix" dash -s -- --no-run <"$script" >/dev/null 2>&1
if [ -x "$prefix/bin/sbs" ]; then pass "the whole script, through the same harness, installs"; else fail "the whole script, through the same harness, installs"; fi

# --- after the install: no terminal --------------------------------------------------------------------------------
prefix=$tmp/prefix-noterm
out=$(curl -fsS "$base/good/install.sh" | setsid -w env SBS_BASE_URL="$base/good" SBS_PREFIX="$prefix" dash -s 2>&1)
status=$?
if [ $status -eq 0 ] && contains "$out" "$prefix/bin/sbs install --answers FILE --non-interactive" && [ -x "$prefix/bin/sbs" ]; then
    pass "no terminal: installs, then prints 'sbs install --answers FILE --non-interactive'"
else
    fail "no terminal: installs, then prints 'sbs install --answers FILE --non-interactive'" "exit $status; $out"
fi
cat >"$tmp/site.yaml" <<'EOF'
version: 1
mode: production
domain: shop.example.test
admin_email: admin@example.test
profile: minimum
tls:
  mode: self-signed
secrets:
  anthropic_api_key: sk-ant-release-test-placeholder
checks:
  dns: skip
EOF
out=$(curl -fsS "$base/good/install.sh" | setsid -w env SBS_BASE_URL="$base/good" SBS_PREFIX="$prefix" dash -s -- --answers "$tmp/site.yaml" 2>&1)
if contains "$out" "$prefix/bin/sbs install --answers $tmp/site.yaml --non-interactive"; then
    pass "no terminal with --answers: the printed command names the answers file"
else
    fail "no terminal with --answers: the printed command names the answers file" "$out"
fi

# --- a second run upgrades in place ---------------------------------------------------------------------------------
prefix=$tmp/prefix-dash # holds v1
root=$tmp/state-root
"$prefix/bin/sbs" install --answers "$tmp/site.yaml" --non-interactive --root "$root" --through write-configs >"$tmp/v1-run.log" 2>&1
status=$?
state_digest() { (cd "$root" && find etc/sbs var/lib/sbs -type f | LC_ALL=C sort | xargs sha256sum | sha256sum); }
before_state=$(state_digest)
before_inode=$(stat -c %i "$prefix/bin/sbs")
install_piped upgrade dash "$prefix" "$base/good" "$v2" --no-run
upgrade_status=$?
after_state=$(state_digest)
status_out=$("$prefix/bin/sbs" status --root "$root" 2>&1)
status_rc=$?
if [ $status -eq 0 ] && [ $upgrade_status -eq 0 ] && contains "$out" "upgraded $prefix/bin/sbs: $v1 (commit $commit) -> $v2 (commit $commit)" \
    && [ "$("$prefix/bin/sbs" --version)" = "$v2 (commit $commit)" ] && [ "$(stat -c %i "$prefix/bin/sbs")" != "$before_inode" ] \
    && [ "$before_state" = "$after_state" ] && [ $status_rc -eq 0 ] && contains "$status_out" "write-configs"; then
    pass "second run upgrades $v1 -> $v2 by rename, state untouched, sbs status reads it"
else
    fail "second run upgrades in place" "v1 run $status: $(tail -5 "$tmp/v1-run.log"); upgrade $upgrade_status: $out; state $before_state / $after_state; status $status_rc: $status_out"
fi

# --- a clean Debian, on the local Docker engine ---------------------------------------------------------------------
if ! scripts/test/docker-env.sh start "$tmp/docker" >"$tmp/docker-env.log" 2>&1 \
    || ! scripts/test/docker-env.sh base-image >>"$tmp/docker-env.log" 2>&1; then
    fail "Docker engine and Debian base image" "$(cat "$tmp/docker-env.log")"
    finish
fi
pass "Docker engine and the debootstrapped Debian base image ($(docker image inspect -f '{{.Size}}' local/debian:bookworm | awk '{ printf "%.0f MB", $1 / 1e6 }'))"

runtime_image=local/sbs-runtime:bookworm
if docker build --network host -t "$runtime_image" - >"$tmp/runtime-image.log" 2>&1 <<'EOF'
FROM local/debian:bookworm
RUN apt-get update -q && apt-get install -y -q --no-install-recommends libcurl4 libedit2 ca-certificates \
    && rm -rf /var/lib/apt/lists/*
EOF
then
    pass "runtime image: the Debian base plus libcurl4, libedit2, ca-certificates"
else
    fail "runtime image: the Debian base plus libcurl4, libedit2, ca-certificates" "$(cat "$tmp/runtime-image.log")"
    finish
fi

name=sbs-release-runtime-$$
containers+=("$name")
# shellcheck disable=SC2016 # expanded in the container
out=$(timeout 600 docker run --rm --name "$name" --network none -v "$tmp/prefix-bash/bin/sbs:/usr/local/bin/sbs:ro" "$runtime_image" sh -c '
    set -e
    echo "VERSION $(sbs --version)"
    sbs plan
    echo "LDD"; ldd /usr/local/bin/sbs
    echo "SWIFT-LIBS $(find / -xdev -name "libswift*" -o -xdev -name "libFoundation*" | wc -l)"
' 2>&1)
status=$?
if [ $status -eq 0 ] && contains "$out" "VERSION $v2 (commit $commit)" && contains "$out" "obtain-certificate" \
    && ! contains "$out" "not found" && contains "$out" "SWIFT-LIBS 0"; then
    pass "installed binary runs sbs --version and sbs plan in the bare Debian container (no Swift libraries there)"
else
    fail "installed binary runs sbs --version and sbs plan in the bare Debian container" "exit $status; $out"
fi
printf '%s\n' "$out" | sed -n '/^LDD/,/^SWIFT-LIBS/p' | sed '1d;$d' | sed 's/^[[:space:]]*/      ldd: /'

# The bare base (no libcurl, no libedit, no curl): install.sh installs the libraries with apt while another
# process holds dpkg's lock, then upgrades in place with state under the real /etc/sbs and /var/lib/sbs.
cat >"$tmp/in-container.sh" <<EOF
set -u
# Hold dpkg's frontend lock for 6 s (struct flock on x86_64), as an unattended upgrade would.
perl -MFcntl -e 'open(my \$f, ">>", "/var/lib/dpkg/lock-frontend") or die "open: \$!";
    my \$lock = pack("s s x4 q q i x4", F_WRLCK, 0, 0, 0, 0);
    fcntl(\$f, F_SETLK, \$lock) or die "lock: \$!";
    open(my \$m, ">", "/tmp/locked"); close(\$m); sleep 6' &
for i in \$(seq 100); do [ -e /tmp/locked ] && break; sleep 0.1; done
SBS_BASE_URL=file:///mirror SBS_VERSION=$v1 sh /mirror/install.sh --no-run; echo "RC1 \$?"
echo "V1 \$(sbs --version)"
sbs install --answers /site.yaml --non-interactive --through write-configs >/tmp/run.log 2>&1; echo "RUN \$?"
digest() { find /etc/sbs /var/lib/sbs -type f | LC_ALL=C sort | xargs sha256sum | sha256sum; }
before=\$(digest)
SBS_BASE_URL=file:///mirror sh /mirror/install.sh --no-run; echo "RC2 \$?"
echo "V2 \$(sbs --version)"
[ "\$before" = "\$(digest)" ] && echo "STATE UNCHANGED"
sbs status; echo "STATUS \$?"
EOF
name=sbs-release-bare-$$
containers+=("$name")
out=$(timeout 600 docker run --rm --name "$name" --network host -v "$mirror:/mirror:ro" -v "$tmp/in-container.sh:/test.sh:ro" \
    -v "$tmp/site.yaml:/site.yaml:ro" local/debian:bookworm sh /test.sh 2>&1)
if contains "$out" "waiting for another package manager to finish: /var/lib/dpkg/lock-frontend is held by process" \
    && contains "$out" "installing libcurl4 libedit2 ca-certificates with apt-get" && contains "$out" "RC1 0" \
    && contains "$out" "V1 $v1 (commit $commit)" && contains "$out" "RUN 0"; then
    pass "bare Debian: install.sh waits for the held dpkg lock, installs libcurl4 libedit2 ca-certificates, then sbs"
else
    fail "bare Debian: install.sh waits for the held dpkg lock, installs the libraries, then sbs" "$out"
fi
if contains "$out" "RC2 0" && contains "$out" "upgraded /usr/local/bin/sbs: $v1 (commit $commit) -> $v2 (commit $commit)" \
    && contains "$out" "V2 $v2 (commit $commit)" && contains "$out" "STATE UNCHANGED" && contains "$out" "STATUS 0"; then
    pass "bare Debian: a second run upgrades in place, /etc/sbs and /var/lib/sbs unchanged, sbs status reads them"
else
    fail "bare Debian: a second run upgrades in place" "$out"
fi

# A terminal: `curl … | sh` inside `docker run -it` in tmux; the wizard must ask on the terminal.
name=sbs-release-tty-$$
containers+=("$name")
session=sbs-release-tty-$$
tmux new-session -d -s "$session" -x 150 -y 40 \
    "docker run --rm -it --name $name --network none -v $mirror:/mirror:ro $runtime_image sh -c 'cat /mirror/install.sh | SBS_BASE_URL=file:///mirror sh'; sleep 30"
screen=""
for _ in $(seq 60); do
    screen=$(tmux capture-pane -p -t "$session" 2>/dev/null)
    contains "$screen" "Domain name" && break
    sleep 0.5
done
if contains "$screen" "(on your terminal)" && contains "$screen" "Domain name"; then
    pass "piped with a terminal: sbs install asks its questions on /dev/tty"
else
    fail "piped with a terminal: sbs install asks its questions on /dev/tty" "$screen"
fi
tmux kill-session -t "$session" 2>/dev/null
docker rm -f "$name" >/dev/null 2>&1

printf '      release tests took %s s\n' "$(($(date +%s) - started))"
finish
