import FoundationEssentials

/// The files of `steps/` and `assets/` as they were when the binary was built, keyed by relative path
/// (`steps/preflight.yaml`, `assets/nginx/bootstrap.conf.mustache`).
public enum BundledAssets {
    public static let files: [String: Data] = bundledFilesBase64.compactMapValues { Data(base64Encoded: $0) }
}
