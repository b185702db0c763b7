#!/usr/bin/env bash
# install.sh against hostile settings and install locations, in seconds and without building a release: a fake
# release (a shell script standing in for the binary) in a scratch folder, served on a loopback port, and a PATH
# whose curl and wget record every call and fail closed (a test that allows the network passes calls on to the real
# curl; only loopback URLs are ever allowed through). Run under dash and under bash:
#   - SBS_BASE_URL: the host read as curl reads it (a host hidden behind '#@', '?@', a longer name, out-of-range or
#     zero-padded octets), user names and passwords refused and never printed, queries, fragments, control
#     characters, glob characters, backslashes, bad ports, '.' and '..' segments (http:// and file://): refused
#     before any request; loopback http (127.x.y.z, localhost, [::1]) and https:// still reach the download;
#   - SBS_VERSION, and the version SHA256SUMS names as its newest: the whole value is a version, or refused;
#   - bin/sbs (or a completion file) that is a folder, a symbolic link or a pipe, bin that is a file: refused before
#     any request, nothing changed; a symbolic link in the tarball is never followed;
#   - SBS_PREFIX with a newline or '..', a trailing '/', TMPDIR with a quote, SBS_LOCK_TIMEOUT, --answers names.
# Each refusal is paired with an install that succeeds through the same harness, so "nothing was requested" and
# "nothing was changed" are checks that can fail. Prints one line per check, ends with "N passed, N failed".
#
#   scripts/test/install-sh-tests.sh [INSTALL_SH]     (default: the checkout's install.sh; SBS_KEEP_TEST_DIR=1
#                                                       keeps the scratch folder)
set -uo pipefail
# shellcheck source=scripts/test/env-lib.sh
. "$(dirname "$0")/env-lib.sh"
cd "$(dirname "$0")/../.." || exit 1
script=$(realpath "${1:-install.sh}")

passed=0
failed=0
pass() { passed=$((passed + 1)); printf 'PASS  %s\n' "$1"; }
fail() {
    failed=$((failed + 1))
    printf 'FAIL  %s\n' "$1"
    if [ $# -gt 1 ]; then printf '%s\n' "$2" | tail -n 25 | sed 's/^/      | /'; fi
}
contains() { printf '%s' "$1" | grep -qF -- "$2"; }

tmp=$(mktemp -d /tmp/sbs-install-sh-tests.XXXXXX)
http_pid=""
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    [ -z "$http_pid" ] || kill "$http_pid" 2>/dev/null
    if [ "${SBS_KEEP_TEST_DIR:-0}" = 1 ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

# --- a fake release ----------------------------------------------------------------------------------------------
version=1.0.0
www=$tmp/www
# release FOLDER VERSION: a release folder holding sbs-VERSION-linux-x86_64.tar.gz (a script that prints VERSION as
# its --version, LICENSE, three completions), its SHA256SUMS line and install.sh.
release() {
    local folder=$www/$1 name=sbs-$2-linux-x86_64
    mkdir -p "$folder" "$tmp/build/$1/$name/completions"
    # shellcheck disable=SC2016 # a script of its own
    printf '#!/bin/sh\n[ "${1:-}" = --version ] && { echo "%s (fake)"; exit 0; }\necho "fake sbs $*"\n' "$2" >"$tmp/build/$1/$name/sbs"
    chmod 0755 "$tmp/build/$1/$name/sbs"
    echo license >"$tmp/build/$1/$name/LICENSE"
    for completion in sbs.bash _sbs sbs.fish; do echo "# $completion" >"$tmp/build/$1/$name/completions/$completion"; done
    [ -z "${3:-}" ] || "$3" "$tmp/build/$1/$name"
    tar -czf "$folder/$name.tar.gz" -C "$tmp/build/$1" "$name"
    (cd "$folder" && sha256sum "$name.tar.gz" >>SHA256SUMS)
    cp "$script" "$folder/install.sh"
}
release good "$version"
# A mirror whose SHA256SUMS names "9.9.9-.." as its newest release (with a tarball that matches it).
release hostile-sums "$version"
release hostile-sums "9.9.9-.."
# A tarball whose bash completion is a symbolic link to a file outside it.
echo "SECRET-OUTSIDE-THE-TARBALL" >"$tmp/secret"
link_completion() { ln -sf "$tmp/secret" "$1/completions/sbs.bash"; }
release linked-completion "$version" link_completion
# A tarball whose release folder is a symbolic link to a folder outside it, which holds another "sbs".
mkdir -p "$tmp/outside"
printf '#!/bin/sh\necho "OUTSIDE BINARY"\n' >"$tmp/outside/sbs"
chmod 0755 "$tmp/outside/sbs"
link_folder() { rm -rf "$1" && ln -s "$tmp/outside" "$1"; }
release linked-folder "$version" link_folder

# --- a loopback server and a PATH that records downloads -----------------------------------------------------------
start_loopback_http "$www" "$tmp/http.log" || { fail "loopback HTTP server starts" "$(cat "$tmp/http.log")"; exit 1; }
port=$http_port
loop=http://127.0.0.1:$port

shims=$tmp/shims
mkdir -p "$shims"
real_curl=$(command -v curl)
real_wget=$(command -v wget)
for tool in curl wget; do
    real=$real_curl
    [ "$tool" = curl ] || real=$real_wget
    cat >"$shims/$tool" <<EOF
#!/bin/sh
# Records the call; passes it on only when the test allows the network (and then only to a loopback URL).
printf '%s\n' "$tool \$*" >>"\$SHIM_LOG"
if [ "\${SHIM_NETWORK:-no}" = yes ]; then
    for arg; do
        case "\$arg" in
            http://127.0.0.1:$port/*) exec "$real" "\$@" ;;
        esac
    done
fi
echo "$tool: refused by the test's shim (no network for this test)" >&2
exit 7
EOF
    chmod 0755 "$shims/$tool"
done
# Package managers must not run: the machine has the libraries, and a test must never install anything.
for tool in apt-get apt-cache dnf yum sudo; do
    # shellcheck disable=SC2016 # a script of its own
    printf '#!/bin/sh\nprintf "%%s\\n" "%s $*" >>"$SHIM_LOG"\nexit 1\n' "$tool" >"$shims/$tool"
    chmod 0755 "$shims/$tool"
done

# run NAME [NAME=VALUE…] [-- ARG…]: install.sh --no-run under $shell, with the shims first in PATH, its own working
# folder, TMPDIR and SBS_PREFIX ($dir/prefix) unless the assignments say otherwise; sets out, status and calls.
run() {
    local name=$1 assignments=() args=()
    shift
    while [ $# -gt 0 ] && [ "$1" != -- ]; do
        assignments+=("$1")
        shift
    done
    [ $# -eq 0 ] || { shift; args=("$@"); }
    dir=$(dir_of "$name")
    mkdir -p "$dir/tmp" "$dir/cwd"
    : >"$dir/calls"
    out=$(cd "$dir/cwd" && env PATH="$shims:$PATH" SHIM_LOG="$dir/calls" TMPDIR="$dir/tmp" SBS_PREFIX="$dir/prefix" \
        SBS_VERSION="" SBS_BASE_URL="" "${assignments[@]}" "$shell" "$script" --no-run "${args[@]}" 2>&1 </dev/null)
    status=$?
    calls=$(cat "$dir/calls")
}
# The scratch folder of the run NAME.
dir_of() { printf '%s/runs/%s/%s' "$tmp" "$shell" "$(printf '%s' "$1" | tr -c 'A-Za-z0-9.-' '_')"; }
# A listing of a folder that changes when anything in it is added, removed, replaced or written.
state() { [ ! -e "$1" ] || find "$1" -printf '%P|%y|%s|%l|%i|%T@\n' | LC_ALL=C sort; }
show() { printf -- '--- prefix:\n%s\n--- calls:\n%s\n--- output (exit %s):\n%s' "$(state "$dir/prefix")" "$calls" "$status" "$out"; }
# nothing_done: a refusal that changed nothing: non-zero exit, no download tried, no package manager, the prefix as
# it was ($before, empty: absent), no temporary folder left.
nothing_done() {
    [ "$status" -ne 0 ] && [ -z "$calls" ] && [ "$(state "$dir/prefix")" = "${before:-}" ] && [ -z "$(ls -A "$dir/tmp")" ]
}

# refused NAME MESSAGE [NAME=VALUE…] [-- ARG…]: refused with MESSAGE in the output, before any request, nothing changed
# (the loopback server may be reached: a script that does not refuse goes on as far as it can).
refused() {
    local name=$1 message=$2
    shift 2
    before=""
    run "$name" SHIM_NETWORK=yes "$@"
    if nothing_done && contains "$out" "$message"; then pass "$shell: refused before any request: $name"; else fail "$shell: refused before any request: $name" "$(show)"; fi
}
# refused_url NAME URL MESSAGE
refused_url() { refused "SBS_BASE_URL $1" "$3" SBS_BASE_URL="$2" SBS_VERSION="$version"; }
# accepted_url NAME URL: the first request install.sh makes is URL/SHA256SUMS (the shim then fails it).
accepted_url() {
    run "accepted $1" SBS_BASE_URL="$2" SBS_VERSION="$version"
    local first
    first=$(printf '%s\n' "$calls" | head -n 1)
    if [ "$status" -ne 0 ] && contains "$first" "${2%/}/SHA256SUMS"; then
        pass "$shell: SBS_BASE_URL $1 is accepted: the download starts at ${2%/}/SHA256SUMS"
    else
        fail "$shell: SBS_BASE_URL $1 is accepted" "$(show)"
    fi
}
installed() { [ "$("$dir/prefix/bin/sbs" --version 2>&1)" = "$version (fake)" ]; }

for shell in dash bash; do
    # --- the harness sees an install, a request and a change -------------------------------------------------------
    run "loopback install" SBS_BASE_URL="$loop/good" SHIM_NETWORK=yes
    if [ "$status" -eq 0 ] && installed && [ "$(printf '%s\n' "$calls" | grep -c "^curl .*$loop/good/")" -eq 2 ] \
        && [ -f "$dir/prefix/share/bash-completion/completions/sbs" ] && contains "$out" "installed $dir/prefix/bin/sbs: $version (fake)"; then
        pass "$shell: plain http on 127.0.0.1 installs through the harness (2 requests recorded)"
    else
        fail "$shell: plain http on 127.0.0.1 installs through the harness" "$(show)"
    fi
    run "file install" SBS_BASE_URL="file://$www/good"
    if [ "$status" -eq 0 ] && installed && [ -z "$calls" ]; then pass "$shell: file:// installs without a request"; else fail "$shell: file:// installs without a request" "$(show)"; fi

    # --- SBS_BASE_URL: the host curl would connect to ----------------------------------------------------------------
    refused_url "a longer name starting 127.0.0.1." "http://127.0.0.1.attacker.example:$port/good" "accepted only for a loopback address"
    refused_url "a host hidden behind #@" "http://attacker.example#@127.0.0.1:$port/good" "SBS_BASE_URL="
    refused_url "a host hidden behind ?@" "http://attacker.example?@127.0.0.1:$port/good" "SBS_BASE_URL="
    refused_url "a host hidden behind /?@" "http://attacker.example/?@127.0.0.1:$port/good" "SBS_BASE_URL="
    refused_url "an octet out of range" "http://127.0.0.256:$port/good" "accepted only for a loopback address"
    refused_url "a zero-padded octet" "http://127.0.0.01:$port/good" "accepted only for a loopback address"
    refused_url "a name after [::1]" "http://[::1].attacker.example:$port/good" "SBS_BASE_URL="
    refused_url "a second port" "http://127.0.0.1:80:$port/good" "not a port number"
    refused_url "a port out of range" "https://mirror.example:99999/sbs" "not a port number"
    refused_url "a backslash in the host" 'https://mirror.example\attacker.example/sbs' "not a host name"
    refused_url "a query" "https://mirror.example/sbs?x=1" "query"
    refused_url "a fragment" "https://mirror.example/sbs#x" "fragment"
    refused_url "a newline" "https://mirror.example/sbs"$'\n'"http://attacker.example/" "control characters"
    refused_url "curl glob braces" "https://mirror.example/sbs/{a,b}" "its path may hold only"
    refused_url "a '..' segment over http" "$loop/good/../good" "'.' and '..' are refused"
    refused_url "a '..' segment in file://" "file://$www/good/../good" "'.' and '..' are refused"
    refused_url "a '.' segment in file://" "file://$www/./good" "'.' and '..' are refused"

    # --- user names and passwords: refused, and never printed ---------------------------------------------------------
    for url in "https://alice:s3cret-pass@mirror.example/sbs" "http://alice:s3cret-pass@127.0.0.1:$port/good" \
        "ftp://alice:s3cret-pass@127.0.0.1/releases" "alice:s3cret-pass@mirror.example/sbs" "https://alice:s3cr@t-pass@mirror.example/sbs"; do
        run "credentials $url" SBS_BASE_URL="$url" SBS_VERSION="$version"
        if nothing_done && contains "$out" "SBS_BASE_URL=" && contains "$out" "***@" && ! contains "$out" "s3cr" && ! contains "$out" "alice"; then
            pass "$shell: refused before any request, credentials not shown: ${url%%:*}:…@${url##*@}"
        else
            fail "$shell: refused before any request, credentials not shown: ${url%%:*}:…@${url##*@}" "$(show)"
        fi
    done

    # --- loopback http and https still reach the download -----------------------------------------------------------
    accepted_url "127.0.0.1" "$loop/good"
    accepted_url "127.255.255.254" "http://127.255.255.254:$port/good"
    accepted_url "localhost" "http://localhost:$port/good"
    accepted_url "[::1]" "http://[::1]:$port/good"
    accepted_url "https with a port and a trailing /" "https://mirror.example:8443/sbs/"
    accepted_url "https on an IPv6 address" "https://[2001:db8::1]/sbs"
    refused_url "plain http to another host" "http://mirror.example/sbs" "accepted only for a loopback address"

    # --- SBS_VERSION: the whole value ---------------------------------------------------------------------------------
    for bad in "1.0.0"$'\n'"../x" "1.0.0"$'\n' "1.0.0-" "1.0.0-a..b" "1.0.0+.x" "1.0.0-$(printf 'a%.0s' $(seq 60))"; do
        refused "SBS_VERSION $(printf '%s' "$bad" | head -c 20 | tr '\n' '~')" "is not a version" SBS_BASE_URL="$loop/good" SBS_VERSION="$bad"
    done
    run "SBS_VERSION accepted" SBS_BASE_URL="$loop/good" SBS_VERSION="1.0.0-rc.1+build.5"
    if contains "$calls" "$loop/good/SHA256SUMS"; then pass "$shell: SBS_VERSION 1.0.0-rc.1+build.5 is accepted"; else fail "$shell: SBS_VERSION 1.0.0-rc.1+build.5 is accepted" "$(show)"; fi
    run "SHA256SUMS names a bad version" SBS_BASE_URL="$loop/hostile-sums" SHIM_NETWORK=yes
    if [ "$status" -ne 0 ] && contains "$out" "not a version" && [ "$(printf '%s\n' "$calls" | grep -c .)" -eq 1 ] && [ ! -e "$dir/prefix" ]; then
        pass "$shell: the newest version SHA256SUMS names is checked too (9.9.9-..): refused after reading SHA256SUMS only"
    else
        fail "$shell: the newest version SHA256SUMS names is checked too (9.9.9-..)" "$(show)"
    fi

    # --- what the install replaces ------------------------------------------------------------------------------------
    # occupied NAME MESSAGE SETUP: SETUP makes $dir/prefix; install.sh refuses before any request, naming the path.
    occupied() {
        dir=$(dir_of "$1")
        rm -rf "$dir"
        mkdir -p "$dir/prefix" "$dir/elsewhere"
        (cd "$dir" && eval "$3")
        before=$(state "$dir/prefix")
        run "$1" SBS_BASE_URL="$loop/good" SHIM_NETWORK=yes
        if nothing_done && contains "$out" "$dir/prefix/$2"; then pass "$shell: refused before any request, nothing changed: $1"; else fail "$shell: refused before any request, nothing changed: $1" "$(show)"; fi
    }
    occupied "bin/sbs is a folder" "bin/sbs is a folder" \
        'mkdir -p prefix/bin/sbs && echo data >prefix/bin/sbs/keep'
    occupied "bin/sbs is a symbolic link" "bin/sbs is a symbolic link (to ../../elsewhere/sbs)" \
        'printf "#!/bin/sh\necho 0.9.0\n" >elsewhere/sbs && chmod 0755 elsewhere/sbs && mkdir prefix/bin && ln -s ../../elsewhere/sbs prefix/bin/sbs'
    occupied "bin/sbs is a dangling symbolic link" "bin/sbs is a symbolic link" 'mkdir prefix/bin && ln -s /nonexistent/sbs prefix/bin/sbs'
    occupied "bin/sbs is a pipe" "bin/sbs is neither a file nor a folder" 'mkdir prefix/bin && mkfifo prefix/bin/sbs'
    occupied "bin is a file" "bin is a file, not a folder" 'echo data >prefix/bin'
    occupied "a completion file is a folder" "share/bash-completion/completions/sbs is a folder" \
        'mkdir -p prefix/share/bash-completion/completions/sbs'

    # Beside them, what is fine: an earlier sbs (a regular file) is upgraded; bin as a symbolic link to a folder.
    dir=$(dir_of upgrade)
    mkdir -p "$dir/prefix/bin"
    printf '#!/bin/sh\necho 0.9.0\n' >"$dir/prefix/bin/sbs"
    chmod 0755 "$dir/prefix/bin/sbs"
    run upgrade SBS_BASE_URL="$loop/good" SHIM_NETWORK=yes
    if [ "$status" -eq 0 ] && installed && contains "$out" "upgraded $dir/prefix/bin/sbs: 0.9.0 -> $version (fake)" && [ "$(ls -A "$dir/prefix/bin")" = sbs ]; then
        pass "$shell: a regular file at bin/sbs is upgraded (0.9.0 -> $version), no temporary file left beside it"
    else
        fail "$shell: a regular file at bin/sbs is upgraded" "$(show)"
    fi
    dir=$(dir_of linked-bin)
    mkdir -p "$dir/prefix" "$dir/real-bin"
    ln -s ../real-bin "$dir/prefix/bin"
    run linked-bin SBS_BASE_URL="file://$www/good"
    if [ "$status" -eq 0 ] && [ "$("$dir/real-bin/sbs" --version 2>&1)" = "$version (fake)" ]; then
        pass "$shell: bin as a symbolic link to a folder: installs into that folder"
    else
        fail "$shell: bin as a symbolic link to a folder: installs into that folder" "$(show)"
    fi

    # --- symbolic links inside the tarball are not followed -----------------------------------------------------------
    run "linked completion" SBS_BASE_URL="file://$www/linked-completion"
    if [ "$status" -eq 0 ] && installed && [ ! -e "$dir/prefix/share/bash-completion/completions/sbs" ] \
        && [ -f "$dir/prefix/share/zsh/site-functions/_sbs" ] && ! grep -rqs SECRET "$dir/prefix"; then
        pass "$shell: a completion that is a symbolic link in the tarball is skipped (the file it names is not copied)"
    else
        fail "$shell: a completion that is a symbolic link in the tarball is skipped" "$(show); $(grep -rs SECRET "$dir/prefix")"
    fi
    run "linked release folder" SBS_BASE_URL="file://$www/linked-folder"
    if [ "$status" -ne 0 ] && contains "$out" "holds no sbs binary" && [ ! -e "$dir/prefix/bin/sbs" ]; then
        pass "$shell: a tarball whose release folder is a symbolic link is refused"
    else
        fail "$shell: a tarball whose release folder is a symbolic link is refused" "$(show)"
    fi

    # --- the other settings -------------------------------------------------------------------------------------------
    dir=$(dir_of prefix-newline)
    refused prefix-newline "SBS_PREFIX=$dir/p?q holds control characters" SBS_BASE_URL="$loop/good" SBS_PREFIX="$dir/p"$'\n'"q"
    if [ "$(find "$dir" -mindepth 1 -maxdepth 1 -printf '%f\n' | LC_ALL=C sort | tr '\n' ' ')" = "calls cwd tmp " ]; then pass "$shell: SBS_PREFIX with a newline: nothing created"; else fail "$shell: SBS_PREFIX with a newline: nothing created" "$(ls -A "$dir")"; fi
    dir=$(dir_of prefix-dotdot)
    refused prefix-dotdot "'.' and '..' are refused" SBS_BASE_URL="$loop/good" SBS_PREFIX="$dir/a/../prefix"
    run prefix-slash SBS_BASE_URL="file://$www/good" SBS_PREFIX="$(dir_of prefix-slash)/prefix//"
    if [ "$status" -eq 0 ] && installed && contains "$out" "installed $dir/prefix/bin/sbs:" && ! contains "$out" "prefix//"; then
        pass "$shell: SBS_PREFIX with trailing slashes: the messages name $dir/prefix/bin/sbs"
    else
        fail "$shell: SBS_PREFIX with trailing slashes: the messages name the path without //" "$(show)"
    fi
    refused "SBS_LOCK_TIMEOUT not a number" "SBS_LOCK_TIMEOUT=1;x is not a number" SBS_BASE_URL="$loop/good" SBS_LOCK_TIMEOUT='1;x'
    answers=$tmp/runs/$shell/site$'\n'install.yaml
    mkdir -p "$tmp/runs/$shell"
    echo "version: 1" >"$answers"
    refused "--answers naming a file with a newline" "holds control characters" SBS_BASE_URL="$loop/good" -- --answers "$answers"

    # TMPDIR is data, never shell code: a quote in it does not end the cleanup's command.
    dir=$(dir_of tmpdir-quote)
    quoted="$dir/tmp/x';touch pwned;'"
    mkdir -p "$quoted" "$dir/cwd"
    run tmpdir-quote SBS_BASE_URL="file://$www/good" TMPDIR="$quoted"
    if [ "$status" -eq 0 ] && installed && [ ! -e "$dir/cwd/pwned" ] && [ -z "$(ls -A "$quoted")" ]; then
        pass "$shell: TMPDIR with a quote: its temporary folder is removed, nothing in it runs as a command"
    else
        fail "$shell: TMPDIR with a quote: its temporary folder is removed, nothing in it runs" "$(show); cwd: $(ls -A "$dir/cwd"); TMPDIR: $(ls -A "$quoted")"
    fi
done

printf '\n%s passed, %s failed\n' "$passed" "$failed"
[ "$failed" -eq 0 ]
