import BundledAssets
import FoundationEssentials
import SBSCore

/// Where `steps/` and `assets/` come from: built into the binary, or a folder given with `--assets`.
public protocol AssetSource: Sendable {
    /// The file at `path` (relative, such as `assets/profiles.yaml`), or nil.
    func file(_ path: String) -> Data?
    /// Every file path under `folder` (such as `steps/`), sorted.
    func paths(under folder: String) -> [String]
}

extension AssetSource {
    /// The file's text.
    /// - Throws: `UserError` naming the missing file.
    public func text(_ path: String) throws(UserError) -> String {
        guard let data = file(path) else {
            throw UserError(
                "The asset \(path) is missing.", remedy: "Reinstall sbs, or check the folder given with --assets.")
        }
        return String(decoding: data, as: UTF8.self)
    }

}

/// The files compiled into sbs.
public struct BundledAssetSource: AssetSource {
    public init() {}
    public func file(_ path: String) -> Data? { BundledAssets.files[path] }
    public func paths(under folder: String) -> [String] {
        BundledAssets.files.keys.filter { $0.hasPrefix(folder) }.sorted()
    }
}

/// Files from a folder laid out like the repository (`DIR/steps`, `DIR/assets`).
public struct DirectoryAssetSource: AssetSource {
    public let root: String

    public init(root: String) {
        self.root = root
    }

    public func file(_ path: String) -> Data? {
        ((try? AtomicFile.read(root + "/" + path, limit: .config)) ?? nil).map { Data($0) }
    }

    public func paths(under folder: String) -> [String] {
        let base = root + "/" + folder
        guard let relatives = try? FileManager.default.subpathsOfDirectory(atPath: base) else { return [] }
        return relatives.filter { AtomicFile.kind(of: base + "/" + $0) == .file }
            .map { folder.hasSuffix("/") ? folder + $0 : folder + "/" + $0 }
            .sorted()
    }
}
