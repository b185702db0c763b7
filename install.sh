#!/bin/sh
# Installs sbs, the Orchestrator-AI Small Business Server installer, then starts it:
#
#   curl -fsSL https://RELEASE_HOST/install.sh | sh
#   curl -fsSL https://RELEASE_HOST/install.sh | sh -s -- --no-run
#
# It detects the system (Debian, Ubuntu or the RHEL family on x86_64), installs the runtime libraries sbs needs
# (libcurl, libedit, ca-certificates) with the system's package manager, downloads the release tarball and its
# SHA256SUMS, refuses any mismatch, puts the binary at $SBS_PREFIX/bin/sbs with one rename (an upgrade replaces the
# old binary; /etc/sbs and /var/lib/sbs stay as they are), and runs `sbs install`.
#
# Settings (environment):
#   SBS_VERSION    the release to install (default: the release this script came with, else the newest in SHA256SUMS):
#                  X.Y.Z[-prerelease][+build], at most 64 characters
#   SBS_BASE_URL   the folder holding sbs-VERSION-linux-ARCH.tar.gz and SHA256SUMS: https://HOST[:PORT]/PATH, http:// on
#                  a loopback address only (127.X.Y.Z, localhost, [::1]), or file:///path for a local folder; no user
#                  name or password, query, fragment, '.' or '..' in it
#   SBS_PREFIX     where bin/sbs goes (default /usr/local): an absolute path without '.' or '..'; an existing bin/sbs
#                  there must be a regular file (a folder, a symbolic link or a device is refused, nothing changed)
# Flags:
#   --no-run       install the binary only
#   --answers FILE passed on: `sbs install --answers FILE`
#   --from-source  build from the sbs checkout this script is in (needs a Swift toolchain) instead of downloading
#
# The whole script is one function called on the last line, with a last argument that only that line gives: a
# download cut short anywhere runs nothing.

# Written by scripts/build-release.sh into the copy of this script that a release serves.
SBS_RELEASE_VERSION=""
SBS_RELEASE_BASE_URL=""

sbs_install_sh() {
    set -eu
    umask 022

    say() { printf 'install.sh: %s\n' "$*" >&2; }
    die() {
        printf 'install.sh: error: %s\n' "$*" >&2
        exit 1
    }

    # --- arguments -------------------------------------------------------------------------------------------
    # The last argument is the marker written on the script's last line; without it the script was truncated.
    marker=""
    eval "marker=\${$#}"
    [ "$marker" = "--sbs-install-sh-complete" ] || die "this script is incomplete (cut short while downloading?): download it again"
    run_after=yes
    answers=""
    from_source=no
    while [ $# -gt 1 ]; do
        case "$1" in
            --no-run) run_after=no ;;
            --answers)
                [ $# -gt 2 ] || die "--answers needs a file"
                answers=$2
                shift
                ;;
            --answers=*) answers=${1#--answers=} ;;
            --from-source) from_source=yes ;;
            -h | --help)
                sed -n '2,/^$/p' "$0" 2>/dev/null | sed 's/^# \{0,1\}//' >&2 || true
                say "see the comment at the top of install.sh for its settings"
                exit 0
                ;;
            *) die "unknown argument: $1 (known: --no-run, --answers FILE, --from-source)" ;;
        esac
        shift
    done
    if [ -n "$answers" ]; then
        case "$answers" in
            *[[:cntrl:]]*) die "the answers file name $(shown "$answers") holds control characters (a newline?): rename it" ;;
        esac
        [ -f "$answers" ] || die "the answers file $answers does not exist"
        case "$answers" in
            /*) ;;
            *) answers="$(cd "$(dirname "$answers")" && pwd)/$(basename "$answers")" ;;
        esac
    fi

    # --- settings: each checked whole, before anything is read from the network or changed ------------------
    version=${SBS_VERSION:-$SBS_RELEASE_VERSION}
    base_url=${SBS_BASE_URL:-$SBS_RELEASE_BASE_URL}
    prefix=${SBS_PREFIX:-/usr/local}
    case "$prefix" in
        *[[:cntrl:]]*) die "SBS_PREFIX=$(shown "$prefix") holds control characters (a newline?): set it to a plain absolute path" ;;
        /*) ;;
        *) die "SBS_PREFIX must be an absolute path, not $prefix" ;;
    esac
    case "$prefix/" in
        */./* | */../*) die "SBS_PREFIX=$prefix: '.' and '..' are refused in it: name the folder directly" ;;
    esac
    while [ "$prefix" != / ] && [ "${prefix%/}" != "$prefix" ]; do prefix=${prefix%/}; done
    if [ -n "$version" ] && ! valid_version "$version"; then
        die "SBS_VERSION=$(shown "$version") is not a version: X.Y.Z with an optional -prerelease and +build (letters, digits, '-' and '.'), at most 64 characters"
    fi
    case "${SBS_LOCK_TIMEOUT:-600}" in
        *[!0-9]*) die "SBS_LOCK_TIMEOUT=$(shown "$SBS_LOCK_TIMEOUT") is not a number of seconds" ;;
    esac
    [ "$from_source" = yes ] || check_base_url "$base_url"
    # What the install replaces must be a regular file (or nothing), and the folders on the way folders: checked
    # here, before any download, so that a refusal changes nothing.
    bin_dir="${prefix%/}/bin"
    target="$bin_dir/sbs"
    case "$prefix" in
        /usr) share=/usr/share ;;
        *) share="${prefix%/}/share" ;;
    esac
    check_folder "$prefix"
    check_folder "$bin_dir"
    check_replaceable "$target"
    for completion in bash-completion/completions/sbs zsh/site-functions/_sbs fish/vendor_completions.d/sbs.fish; do
        check_folder "$share"
        check_folder "$share/${completion%%/*}"
        check_folder "$share/${completion%/*}"
        check_replaceable "$share/$completion"
    done

    # --- system --------------------------------------------------------------------------------------------
    [ "$(uname -s)" = Linux ] || die "sbs runs on Linux only (this is $(uname -s))"
    machine=$(uname -m)
    case "$machine" in
        x86_64 | amd64) arch=x86_64 ;;
        aarch64 | arm64) die "no sbs release for aarch64 (ARM) yet: only x86_64 is built. Use an x86_64 server, or build from a checkout with --from-source" ;;
        *) die "unsupported architecture $machine: sbs is released for x86_64 only" ;;
    esac

    [ -r /etc/os-release ] || die "cannot tell which Linux this is: /etc/os-release is missing"
    os_id=$(os_field ID)
    os_like=$(os_field ID_LIKE)
    os_version=$(os_field VERSION_ID)
    os_name=$(os_field PRETTY_NAME)
    family=""
    case " $os_id $os_like " in
        *" debian "* | *" ubuntu "*) family=debian ;;
        *" rhel "* | *" centos "* | *" rocky "* | *" almalinux "* | *" ol "*) family=rhel ;;
    esac
    [ -n "$family" ] || die "${os_name:-$os_id} is not supported: sbs installs on Debian 12+, Ubuntu 22.04+ and the RHEL family (9+)"
    major=${os_version%%.*}
    case "$os_id" in
        debian) [ -z "$major" ] || [ "$major" -ge 12 ] 2>/dev/null || die "$os_name is too old: sbs needs Debian 12 or newer" ;;
        ubuntu) [ "$major" -ge 22 ] 2>/dev/null || die "$os_name is too old: sbs needs Ubuntu 22.04 or newer" ;;
        rhel | centos | rocky | almalinux | ol) [ "$major" -ge 9 ] 2>/dev/null || die "$os_name is too old: sbs needs release 9 or newer" ;;
    esac
    say "system: ${os_name:-$os_id} ($family family), $arch"

    # --- privileges ----------------------------------------------------------------------------------------
    if [ "$(id -u)" -eq 0 ]; then
        as_root=""
    elif command -v sudo >/dev/null 2>&1; then
        as_root=sudo
        say "not running as root: using sudo for the package manager, $prefix and sbs itself"
    else
        die "sbs needs root: run this script as root (or install sudo)"
    fi

    work=$(mktemp -d "${TMPDIR:-/tmp}/sbs-install.XXXXXX") || die "cannot create a temporary folder"
    # Expanded when the trap runs: the folder's name (from TMPDIR) is never read as shell code.
    trap 'rm -rf "$work"' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    trap 'exit 129' HUP

    # --- the binary ----------------------------------------------------------------------------------------
    if [ "$from_source" = yes ]; then
        build_from_source
        install_runtime_packages
    else
        download_release
        # After the checksum: a refused download changes nothing on the system.
        install_runtime_packages
        unpack_release
    fi
    # The binary must start here before it replaces anything (a missing library, a too old C library).
    if ! "$unpacked/sbs" --version >"$work/version.out" 2>&1; then
        cat "$work/version.out" >&2
        die "the downloaded sbs does not run on this system (above); nothing was installed"
    fi
    new_version=$(cat "$work/version.out")

    # --- install -------------------------------------------------------------------------------------------
    # Checked again: the download took a while.
    check_folder "$bin_dir"
    check_replaceable "$target"
    old_version=""
    if [ -x "$target" ]; then
        old_version=$("$target" --version 2>/dev/null || echo "unknown")
    fi
    $as_root mkdir -p "$bin_dir"
    # Copy beside the target (into a new file of its own), then rename over it: a running sbs keeps its old file,
    # and nobody sees half a binary.
    new_file=$($as_root mktemp "$bin_dir/.sbs.new.XXXXXX") || die "cannot create a file in $bin_dir"
    $as_root cp "$unpacked/sbs" "$new_file"
    $as_root chmod 0755 "$new_file"
    $as_root mv -f "$new_file" "$target" || {
        $as_root rm -f "$new_file"
        die "could not install $target"
    }
    if [ -n "$old_version" ]; then
        say "upgraded $target: $old_version -> $new_version (/etc/sbs and /var/lib/sbs untouched)"
    else
        say "installed $target: $new_version"
    fi
    install_completions

    # --- run -----------------------------------------------------------------------------------------------
    run_sbs
}

# One field of /etc/os-release, unquoted.
os_field() {
    sed -n "s/^$1=//p" /etc/os-release | head -n 1 | sed -e 's/^"\(.*\)"$/\1/' -e "s/^'\(.*\)'\$/\1/"
}

# A value for a message: control characters (a newline that would start a line of its own) shown as '?'.
shown() {
    printf '%s' "$1" | tr '[:cntrl:]' '?'
}

# A URL for a message: any user name and password (everything between :// and the last '@') shown as ***.
shown_url() {
    case "$1" in
        [A-Za-z]*://*@*)
            scheme=${1%%://*}
            case "$scheme" in
                *[!A-Za-z0-9+.-]*) shown "***@${1##*@}" ;;
                *) shown "$scheme://***@${1##*@}" ;;
            esac
            ;;
        *@*) shown "***@${1##*@}" ;;
        *) shown "$1" ;;
    esac
}

# X.Y.Z, then an optional -prerelease and an optional +build, each dot-separated identifiers of letters, digits and
# '-' (semantic versioning), at most 64 characters: the whole value, not one line of it.
valid_version() {
    case "$1" in
        "" | *[!0-9A-Za-z.+-]*) return 1 ;;
    esac
    [ "${#1}" -le 64 ] || return 1
    core=${1%%[-+]*}
    suffix=${1#"$core"}
    case "$core" in
        *[!0-9.]* | .* | *. | *..* | *.*.*.*) return 1 ;;
        *.*.*) ;;
        *) return 1 ;;
    esac
    case "$suffix" in
        "") return 0 ;;
        -*+*)
            pre=${suffix#-}
            pre=${pre%%+*}
            build=${suffix#*+}
            ;;
        -*) pre=${suffix#-} build=x ;;
        *) pre=x build=${suffix#+} ;;
    esac
    for part in "$pre" "$build"; do
        case "$part" in
            "" | *+* | .* | *. | *..*) return 1 ;;
        esac
    done
    return 0
}

# Whether $1 is 127.X.Y.Z, each part decimal 0-255 without a leading zero.
is_loopback_ipv4() {
    case "$1" in
        127.*.*.*) ;;
        *) return 1 ;;
    esac
    case "$1" in
        *[!0-9.]* | *. | *..* | *.*.*.*.*) return 1 ;;
    esac
    for octet in ${1%%.*} $(printf '%s' "${1#*.}" | tr . ' '); do
        case "$octet" in
            [0-9] | [1-9][0-9] | 1[0-9][0-9] | 2[0-4][0-9] | 25[0-5]) ;;
            *) return 1 ;;
        esac
    done
    return 0
}

# Accepts https://HOST[:PORT][/PATH], http:// on a loopback address, and file:///absolute/path. The host is read as
# curl reads it (scheme://[userinfo@]host[:port][/path][?query][#fragment]: the authority ends at the first '/',
# '?' or '#'), and whatever could make curl, wget and the reader of a message disagree on it is refused: a user
# name or password (no '@' at all), a query or fragment (the release's file names are appended to the URL), a
# backslash, spaces, control characters, '.' and '..' segments.
check_base_url() {
    url_problem=""
    case "$1" in
        "") die "no release location: set SBS_BASE_URL to the folder holding the release (https://…, or file:///path for a local copy)" ;;
        *[[:cntrl:]]*) url_problem="control characters (a newline?) are not part of a URL" ;;
        *@*) url_problem="a user name or password (or any '@') is refused in it: serve the release without one" ;;
        *[?#]*) url_problem="a query (?) or fragment (#) is refused in it: give the folder that holds the release" ;;
    esac
    [ -z "$url_problem" ] || die "SBS_BASE_URL=$(shown_url "$1"): $url_problem"
    case "$1" in
        https://* | http://*)
            rest=${1#*://}
            authority=${rest%%/*}
            path=${rest#"$authority"}
            case "$authority" in
                \[*\]) host=$authority port=none ;;
                \[*\]:*)
                    host=${authority%%]*}]
                    port=${authority#"$host":}
                    ;;
                *:*)
                    host=${authority%%:*}
                    port=${authority#*:}
                    ;;
                *) host=$authority port=none ;;
            esac
            case "$host" in
                \[*\]) case "$host" in \[*[!0-9A-Fa-f:.]*\] | \[\]) url_problem="$host is not an IPv6 address" ;; esac ;;
                "" | .* | -* | *[!A-Za-z0-9._-]*) url_problem="'$host' is not a host name" ;;
            esac
            case "$port" in
                none) ;;
                "" | *[!0-9]* | ??????*) url_problem="'$port' is not a port number" ;;
                *) [ "$port" -le 65535 ] || url_problem="'$port' is not a port number" ;;
            esac
            case "$path" in
                *[!A-Za-z0-9._~%/+=,:-]*) url_problem="its path may hold only letters, digits and . _ ~ % / + = , : -" ;;
            esac
            ;;
        file:///*)
            path=${1#file://}
            case "$path" in
                *%*) url_problem="percent-encoding is not read in a file:// URL: name the folder as it is" ;;
            esac
            ;;
        file://*) die "SBS_BASE_URL=$(shown_url "$1"): a file:// URL needs an absolute path (file:///path)" ;;
        *) die "SBS_BASE_URL=$(shown_url "$1"): only https://, http:// on loopback, and file:// are accepted" ;;
    esac
    case "$path/" in
        */./* | */../*) url_problem="'.' and '..' are refused in its path: name the folder directly" ;;
    esac
    [ -z "$url_problem" ] || die "SBS_BASE_URL=$(shown_url "$1"): $url_problem"
    case "$1" in
        http://*)
            case "$host" in
                localhost | \[::1\]) ;;
                *) is_loopback_ipv4 "$host" \
                    || die "SBS_BASE_URL=$1: plain http:// is accepted only for a loopback address (127.0.0.1, localhost, [::1]); use https://" ;;
            esac
            ;;
        file://*) [ -d "$path" ] || die "SBS_BASE_URL=$1: no such folder" ;;
    esac
}

# fetch URL FILE: the whole document or an error; https only (see check_base_url), no redirect to plain http.
fetch() {
    case "$1" in
        file://*)
            cp "${1#file://}" "$2" 2>/dev/null || die "cannot read ${1#file://}"
            return 0
            ;;
    esac
    if command -v curl >/dev/null 2>&1; then
        case "$1" in
            http://*) protocols="=http,https" ;;
            *) protocols="=https" ;;
        esac
        curl --globoff --fail --silent --show-error --location --tlsv1.2 --proto "$protocols" --proto-redir "=https" \
            --retry 3 --retry-delay 2 --retry-connrefused --connect-timeout 20 --output "$2" "$1" \
            || die "download failed: $1"
    elif command -v wget >/dev/null 2>&1; then
        # wget cannot limit the protocol of a redirect: it follows none.
        wget --quiet --tries=3 --waitretry=2 --retry-connrefused --timeout=20 --max-redirect=0 \
            --output-document="$2" "$1" || die "download failed: $1 (wget follows no redirect; curl does)"
    else
        die "neither curl nor wget is installed: install curl and run this script again"
    fi
}

sha256_of() {
    if command -v sha256sum >/dev/null 2>&1; then
        sha256sum "$1" | cut -d ' ' -f 1
    elif command -v openssl >/dev/null 2>&1; then
        openssl dgst -sha256 -r "$1" | cut -d ' ' -f 1
    else
        die "no sha256sum nor openssl to verify the download"
    fi
}

download_release() {
    base_url=${base_url%/}
    say "fetching $base_url/SHA256SUMS"
    fetch "$base_url/SHA256SUMS" "$work/SHA256SUMS"
    if [ -z "$version" ]; then
        # The newest release for this architecture that the folder lists.
        version=$(sed -n "s/^[0-9a-f]\{64\} [ *]sbs-\(.*\)-linux-$arch\.tar\.gz\$/\1/p" "$work/SHA256SUMS" | sort -V | tail -n 1)
        [ -n "$version" ] || die "$base_url/SHA256SUMS lists no release for linux-$arch"
        valid_version "$version" || die "$base_url/SHA256SUMS names $(shown "$version") as its newest release: not a version, refusing"
    fi
    tarball="sbs-$version-linux-$arch.tar.gz"
    # Exactly one well-formed line must name the tarball.
    lines=$(awk -v f="$tarball" '$2 == f || $2 == "*" f' "$work/SHA256SUMS")
    [ -n "$lines" ] || die "$base_url/SHA256SUMS does not list $tarball (is SBS_VERSION=$version released?)"
    [ "$(printf '%s\n' "$lines" | wc -l)" -eq 1 ] || die "$base_url/SHA256SUMS lists $tarball more than once: refusing"
    expected=$(printf '%s\n' "$lines" | cut -d ' ' -f 1)
    printf '%s\n' "$expected" | grep -Eq '^[0-9a-f]{64}$' || die "$base_url/SHA256SUMS has a malformed line for $tarball: refusing"

    say "fetching $base_url/$tarball"
    fetch "$base_url/$tarball" "$work/$tarball"
    actual=$(sha256_of "$work/$tarball")
    if [ "$actual" != "$expected" ]; then
        die "checksum mismatch for $tarball: SHA256SUMS says $expected, the download is $actual. Nothing was installed"
    fi
    say "checksum verified: $tarball"
}

unpack_release() {
    mkdir "$work/unpack"
    tar -xzf "$work/$tarball" -C "$work/unpack" || die "cannot unpack $tarball"
    unpacked="$work/unpack/sbs-$version-linux-$arch"
    if [ ! -d "$unpacked" ] || [ -L "$unpacked" ] || [ ! -f "$unpacked/sbs" ] || [ -L "$unpacked/sbs" ]; then
        die "$tarball holds no sbs binary"
    fi
}

build_from_source() {
    source_dir=$(cd "$(dirname "$0")" 2>/dev/null && pwd) || source_dir=""
    if [ -z "$source_dir" ] || [ ! -f "$source_dir/Package.swift" ] || [ ! -d "$source_dir/Sources/sbs" ]; then
        die "--from-source runs from an sbs checkout: sh path/to/checkout/install.sh --from-source"
    fi
    command -v swift >/dev/null 2>&1 || die "--from-source needs a Swift toolchain (swift on PATH)"
    [ -x "$source_dir/scripts/build-release.sh" ] || die "$source_dir/scripts/build-release.sh is missing"
    say "building sbs from $source_dir (several minutes)"
    install_runtime_packages build
    "$source_dir/scripts/build-release.sh" --report-budgets --output "$work/release" ${SBS_VERSION:+--version "$SBS_VERSION"} >&2 \
        || die "the build failed (above)"
    version=$(sed -n 's/^[0-9a-f]\{64\} [ *]sbs-\(.*\)-linux-.*\.tar\.gz$/\1/p' "$work/release/SHA256SUMS" | head -n 1)
    mkdir "$work/unpack"
    tar -xzf "$work/release/sbs-$version-linux-$arch.tar.gz" -C "$work/unpack"
    unpacked="$work/unpack/sbs-$version-linux-$arch"
}

# Waits while another package manager holds one of dpkg's or apt's locks (they are fcntl locks, which
# /proc/locks lists by device and inode), saying so once.
wait_for_package_lock() {
    waited=0
    while :; do
        holder=""
        for lock in /var/lib/dpkg/lock-frontend /var/lib/dpkg/lock /var/lib/apt/lists/lock /var/cache/apt/archives/lock; do
            [ -e "$lock" ] || continue
            # /proc/locks: "1: POSIX ADVISORY WRITE PID MAJOR:MINOR:INODE START END", major and minor in hex.
            id=$(stat -c '%d %i' "$lock" 2>/dev/null) || continue
            # shellcheck disable=SC2086 # two numbers
            set -- $id
            key=$(printf '%02x:%02x:%s' $((($1 >> 8) & 4095)) $((($1 & 255) | (($1 >> 12) & 1048320))) "$2")
            holder=$(awk -v k="$key" '$6 == k { print $5; exit } $7 == k { print $6; exit }' /proc/locks 2>/dev/null || true)
            if [ -n "$holder" ]; then
                held=$lock
                break
            fi
        done
        [ -n "$holder" ] || return 0
        if [ "$waited" -eq 0 ]; then
            say "waiting for another package manager to finish: $held is held by process $holder ($(cat "/proc/$holder/comm" 2>/dev/null || echo '?'))"
        fi
        [ "$waited" -lt "${SBS_LOCK_TIMEOUT:-600}" ] || die "$held is still held by process $holder after $waited s: let it finish, then run this script again"
        sleep 2
        waited=$((waited + 2))
    done
}

has_library() {
    for dir in /lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu /lib64 /usr/lib64 /usr/lib /lib; do
        [ -e "$dir/$1" ] && return 0
    done
    return 1
}

# The libraries sbs links dynamically (libcurl, libedit) and the CA certificates, when missing; with "build",
# the development packages that a source build needs too.
install_runtime_packages() {
    packages=""
    if [ "$family" = debian ]; then
        if ! has_library libcurl.so.4; then
            # Ubuntu 24.04 renamed it (64-bit time_t).
            if apt-cache show libcurl4t64 >/dev/null 2>&1; then packages="$packages libcurl4t64"; else packages="$packages libcurl4"; fi
        fi
        has_library libedit.so.2 || packages="$packages libedit2"
        [ -f /etc/ssl/certs/ca-certificates.crt ] || packages="$packages ca-certificates"
        if [ "${1:-}" = build ]; then
            for package in libcurl4-openssl-dev libedit-dev pkg-config; do
                dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || packages="$packages $package"
            done
        fi
        [ -n "$packages" ] || return 0
        say "installing$packages with apt-get"
        wait_for_package_lock
        export DEBIAN_FRONTEND=noninteractive
        $as_root apt-get -o DPkg::Lock::Timeout=300 -q update >"$work/apt.log" 2>&1 || {
            cat "$work/apt.log" >&2
            die "apt-get update failed (above)"
        }
        wait_for_package_lock
        # shellcheck disable=SC2086 # a list of package names
        $as_root apt-get -o DPkg::Lock::Timeout=300 -q install -y --no-install-recommends $packages >>"$work/apt.log" 2>&1 || {
            cat "$work/apt.log" >&2
            die "apt-get install$packages failed (above)"
        }
    else
        has_library libcurl.so.4 || packages="$packages libcurl"
        has_library libedit.so.2 || has_library libedit.so.0 || packages="$packages libedit"
        [ -f /etc/pki/tls/certs/ca-bundle.crt ] || packages="$packages ca-certificates"
        [ "${1:-}" != build ] || packages="$packages libcurl-devel libedit-devel pkgconf-pkg-config"
        [ -n "$packages" ] || return 0
        if command -v dnf >/dev/null 2>&1; then manager=dnf; else manager=yum; fi
        say "installing$packages with $manager"
        # shellcheck disable=SC2086 # a list of package names
        $as_root "$manager" install -y -q $packages >"$work/dnf.log" 2>&1 || {
            cat "$work/dnf.log" >&2
            die "$manager install$packages failed (above)"
        }
    fi
}

install_completions() {
    # Beside the system's own: bash-completion's, zsh's site functions and fish's vendor folder. The completions
    # name the sbs in $PATH, so they go under /usr/share only when sbs itself is there ($share, set with $prefix).
    # Only regular files are copied: a symbolic link in the tarball is skipped, never followed.
    if [ ! -d "$unpacked/completions" ] || [ -L "$unpacked/completions" ]; then return 0; fi
    for pair in "sbs.bash:bash-completion/completions/sbs" "_sbs:zsh/site-functions/_sbs" "sbs.fish:fish/vendor_completions.d/sbs.fish"; do
        from="$unpacked/completions/${pair%%:*}"
        to="$share/${pair#*:}"
        if [ ! -f "$from" ] || [ -L "$from" ]; then continue; fi
        check_folder "$(dirname "$to")"
        check_replaceable "$to"
        $as_root mkdir -p "$(dirname "$to")"
        new_file=$($as_root mktemp "$to.new.XXXXXX") || die "cannot create a file in $(dirname "$to")"
        $as_root cp "$from" "$new_file"
        $as_root chmod 0644 "$new_file"
        $as_root mv -f "$new_file" "$to"
    done
    say "shell completions in $share/{bash-completion/completions,zsh/site-functions,fish/vendor_completions.d}"
}

# What kind of file $1 is, for a message.
kind_of() {
    if [ -L "$1" ]; then
        echo "a symbolic link (to $(shown "$(readlink "$1" 2>/dev/null || echo '?')"))"
    elif [ -d "$1" ]; then
        echo "a folder"
    elif [ -f "$1" ]; then
        echo "a file"
    else
        echo "neither a file nor a folder (a device, pipe or socket)"
    fi
}

# A file the install replaces: nothing there, or a regular file (not a folder, a symbolic link, a device or pipe).
check_replaceable() {
    if [ ! -e "$1" ] && [ ! -L "$1" ]; then return 0; fi
    if [ -L "$1" ] || [ ! -f "$1" ]; then
        die "$1 is $(kind_of "$1"), not a file: refusing to install over it (nothing was changed). Move it away, or set SBS_PREFIX to another place, and run this script again"
    fi
}

# A folder the install writes in: nothing there yet, or a folder (a symbolic link to one is fine).
check_folder() {
    if [ ! -e "$1" ] && [ ! -L "$1" ]; then return 0; fi
    [ -d "$1" ] || die "$1 is $(kind_of "$1"), not a folder: cannot install under it (nothing was changed)"
}

run_sbs() {
    set -- install
    [ -z "$answers" ] || set -- "$@" --answers "$answers"
    if [ "$run_after" = no ]; then
        say "done. Next: $target $*"
        return 0
    fi
    # Through `curl … | sh` standard input is the script itself: the wizard talks to the terminal instead.
    if [ -t 0 ]; then
        say "starting: $target $*"
        tty=""
    elif (exec </dev/tty) 2>/dev/null; then
        say "starting: $target $* (on your terminal)"
        tty=/dev/tty
    else
        say "no terminal to answer questions on: write an answers file (examples/demo.yaml in the sources shows one), then run"
        say "  ${as_root:+$as_root }$target install --answers ${answers:-FILE} --non-interactive"
        return 0
    fi
    rm -rf "$work"
    trap - EXIT
    if [ -n "$tty" ]; then
        exec $as_root "$target" "$@" <"$tty"
    else
        exec $as_root "$target" "$@"
    fi
}

sbs_install_sh "$@" --sbs-install-sh-complete
