import SBSCore
import Wizard

/// The answers file's secret names; spelled out here because Render has a `SecretName` of its own.
public typealias AnswerSecretName = SecretName

/// The answers' secrets by the variable they are kept under in `secrets.env`, resolved (env:, file:).
/// This file imports Wizard alone: Render has a `SecretName` of its own.
func answerSecretValues(_ answers: Answers, environment: [String: String]) throws(UserError) -> [(variable: String, value: String)] {
    var values: [(String, String)] = []
    for name in SecretName.allCases {
        if let source = answers.secrets[name] { values.append((name.environmentName, try source.resolve(environment))) }
    }
    if let smtp = answers.smtpPassword { values.append(("SMTP_PASSWORD", try smtp.resolve(environment))) }
    return values
}
