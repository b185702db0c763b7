import Render
import SBSCore

/// The answer secrets already kept in `secrets.env` by an earlier run.
public func storedSecretNames(_ layout: Layout) -> Set<AnswerSecretName> {
    Set(storedSecretValues(layout).keys)
}

/// The answer secrets kept in `secrets.env`, by the name the answers file gives them.
public func storedSecretValues(_ layout: Layout) -> [AnswerSecretName: String] {
    guard let stored = try? SecretsFile(path: layout.secretsFile).load() else { return [:] }
    var values: [AnswerSecretName: String] = [:]
    for name in AnswerSecretName.allCases {
        if let variable = try? Render.SecretName(name.environmentName), let value = stored[variable] { values[name] = value }
    }
    return values
}
