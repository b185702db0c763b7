import SBSCore
import Wizard

/// The answer secrets already kept in `secrets.env` by an earlier run.
public func storedSecretNames(_ layout: Layout) -> Set<SecretName> {
    Set(storedSecretValues(layout).keys)
}

/// The answer secrets kept in `secrets.env`, by name.
public func storedSecretValues(_ layout: Layout) -> [SecretName: String] {
    guard let text = try? AtomicFile.readText(layout.secretsFile) else { return [:] }
    var values: [SecretName: String] = [:]
    for line in text.split(separator: "\n") {
        let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { continue }
        for name in SecretName.allCases where name.environmentName == parts[0] { values[name] = parts[1] }
    }
    return values
}
