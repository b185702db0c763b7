import Foundation
import PackagePlugin

/// Compiles every file under `steps/` and `assets/` into the `BundledAssets` target, keyed by its path relative
/// to the package root (`.embedInCode` would flatten the names, and `Bundle.module` needs a folder beside the
/// binary).
@main
struct EmbedAssets: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let root = context.package.directoryURL
        let folders = ["steps", "assets"]
        var inputs: [URL] = []
        for folder in folders {
            let base = root.appending(path: folder)
            guard let walker = FileManager.default.enumerator(at: base, includingPropertiesForKeys: [.isRegularFileKey])
            else { continue }
            for case let url as URL in walker
            where (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true {
                inputs.append(url)
            }
        }
        let output = context.pluginWorkDirectoryURL.appending(path: "BundledFiles.swift")
        return [
            .buildCommand(
                displayName: "Embedding steps/ and assets/",
                executable: try context.tool(named: "EmbedAssetsTool").url,
                arguments: [root.path, output.path] + folders,
                inputFiles: inputs,
                outputFiles: [output]
            )
        ]
    }
}
