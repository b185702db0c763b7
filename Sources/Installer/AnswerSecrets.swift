import Render
import SBSCore
import Wizard

/// The answers' secrets, read (literal, `env:`, `file:`, `stored`) and checked before any step runs. Printing
/// one shows the names only.
public struct AnswerSecretValues: Sendable, CustomStringConvertible, CustomReflectable {
    let values: [AnswerSecret: String]

    public init(_ values: [AnswerSecret: String] = [:]) {
        self.values = values
    }

    /// Reads every secret the answers give; every problem at once, each with its place in the file.
    /// - Parameter stored: the values an earlier run kept in `secrets.env`, by variable.
    /// - Throws: `UserError` listing each secret that cannot be read or breaks the rules.
    public static func resolve(
        _ answers: Answers, stored: [String: String],
        environment: (String) -> [UInt8]? = SecretSource.processEnvironment
    ) throws(UserError) -> AnswerSecretValues {
        var values: [AnswerSecret: String] = [:]
        var problems: [String] = []
        for (name, source) in answers.secretSources.sorted(by: { $0.key < $1.key }) {
            do {
                values[name] = try source.resolve(environment: environment, stored: { stored[name.variable] })
            } catch {
                problems.append(
                    "\(answers.origin.at(name.rawValue))\(name.rawValue): \(error.message)"
                        + (error.remedy.map { " (\($0))" } ?? ""))
            }
        }
        if !problems.isEmpty {
            throw UserError(
                "Some secrets cannot be used:\n  " + problems.joined(separator: "\n  "),
                remedy: "Fix them in the answers (or the variables and files they name), then run again.")
        }
        return AnswerSecretValues(values)
    }

    /// The answer secrets kept in `secrets.env`, by variable; one missing there is taken from the deploy `.env`
    /// that was rendered with it (so a lost `secrets.env` is recovered, not asked for again).
    public static func stored(in secretsFile: String, deployEnv: String) -> [String: String] {
        let secrets = (try? SecretsFile(path: secretsFile).load()) ?? Secrets()
        let rendered =
            ((try? AtomicFile.read(deployEnv, limit: .secrets, followingLinks: false)) ?? nil).map(
                DeployEnvFile.secrets(in:)) ?? [:]
        var result: [String: String] = [:]
        for name in AnswerSecret.allCases {
            guard let variable = try? Render.SecretName(name.variable) else { continue }
            if let value = secrets[variable] ?? rendered[variable] { result[name.variable] = value }
        }
        return result
    }

    public subscript(name: AnswerSecret) -> String? { values[name] }

    /// `answers` with each secret whose value is `kept` (by variable, see `stored(in:deployEnv:)`) named `stored`.
    public static func namingStored(_ answers: Answers, kept: [String: String]) -> Answers {
        var rewritten = answers
        rewritten.secretSources = answers.secretSources.reduce(into: [:]) { sources, entry in
            sources[entry.key] = kept[entry.key.variable] != nil ? .stored : entry.value
        }
        return rewritten
    }

    /// Values by the variable they are kept under.
    public var byVariable: [String: String] {
        Dictionary(uniqueKeysWithValues: values.map { ($0.key.variable, $0.value) })
    }

    public var allValues: [String] { Array(values.values) }
    public var description: String {
        "AnswerSecretValues(\(values.keys.sorted().map(\.rawValue).joined(separator: ", ")))"
    }
    public var customMirror: Mirror { Mirror(self, children: ["names": values.keys.sorted().map(\.rawValue)]) }
}
