/// The release this binary belongs to, printed by `sbs --version`.
///
/// A development build says `0.1.0-dev (commit unknown)`. `scripts/build-release.sh` writes the release's version
/// and commit into this file in a copy of the sources it builds from, so the checkout itself never changes.
enum BuildVersion {
    static let version = "0.1.0-dev"
    static let commit = "unknown"

    static var description: String { "\(version) (commit \(commit))" }
}
