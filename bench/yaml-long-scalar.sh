#!/usr/bin/env bash
# The YAML reader's time against a value's length, side by side in one run: a value on one line (words, one space
# between them) and a value folded over lines (every other gap an empty line), each of 1 MiB and of 4 MiB, read by
# a release build of the reader (Sources/YAML) through a small driver compiled here. Prints the best of three times
# of each and the 4 MiB / 1 MiB ratio: about 4 is linear, about 16 quadratic.
#
#   bench/yaml-long-scalar.sh
# Needs: swift (it builds the YAML target in release, under .build/release).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/sbs-bench-yaml-XXXXXX)
trap 'rm -rf "$work"' EXIT

(cd "$repo" && swift build -c release --target YAML >/dev/null)
release="$repo/.build/release"
cat > "$work/main.swift" <<'SWIFT'
import Glibc
import YAML

/// yaml-bench BYTES one-line|folded: the seconds the best of three reads of a value of BYTES takes.
let bytes = Int(CommandLine.arguments[1])!
var text = String.UnicodeScalarView()
if CommandLine.arguments[2] == "one-line" {
    for index in 0..<bytes { text.append(index % 9 == 8 && index != bytes - 1 ? " " : "a") }
} else {
    for index in 0..<bytes {
        let column = index % 100
        text.append(column != 99 || index == bytes - 1 ? "b" : "\n")
        if column == 99 && index != bytes - 1 {
            if (index / 100) % 2 == 1 { text.append("\n") }
            text.append(" ")
            text.append(" ")
        }
    }
}
let document = "value: " + String(text) + "\n"
var best = Double.infinity
for _ in 0..<3 {
    var start = timespec()
    var end = timespec()
    clock_gettime(CLOCK_MONOTONIC, &start)
    let node = try YAMLNode.parse(document)
    clock_gettime(CLOCK_MONOTONIC, &end)
    guard let value = node?.mapping?["value"]?.string, value.utf8.count >= bytes * 98 / 100 else {
        fatalError("the value was not read whole")
    }
    best = min(best, Double(end.tv_sec - start.tv_sec) + Double(end.tv_nsec - start.tv_nsec) / 1e9)
}
print(best)
SWIFT
swiftc -O -I "$release/Modules" "$work/main.swift" "$release"/YAML.build/*.o "$release"/SBSCore.build/*.o \
  -o "$work/yaml-bench"

for style in one-line folded; do
  small=$("$work/yaml-bench" $((1 << 20)) "$style")
  large=$("$work/yaml-bench" $((4 << 20)) "$style")
  awk -v style="$style" -v small="$small" -v large="$large" 'BEGIN {
    printf "%s value: 1 MiB %.3f s, 4 MiB %.3f s; ratio %.2f (linear: about 4)\n", style, small, large, large / small }'
done
