import Deploy
import Foundation
import TestSupport
import Testing

/// The registry credentials are written as docker's client reads them: `{"auths": {SERVER: {"auth":
/// base64(user:password)}}}`, whatever characters the server, user or password hold.
@Suite struct RegistryLoginConfig {
    struct ClientConfig: Decodable {
        struct Credentials: Decodable { var auth: String }
        var auths: [String: Credentials]
    }

    @Test(arguments: [
        ("registry.example.com:5000", "deploy", "s3cret"),
        ("reg.example.com", "bob", #"p"a\ss/wörd:with "quotes", \n and a tab\t"#),
        ("localhost:5000", "ci\"user", "\u{1}\u{1f}\u{7f}"),
    ])
    func theConfigReadsBackAsDockerDecodesIt(server: String, user: String, password: String) throws {
        let login = RegistryLogin(server: server, user: user, password: password, configDirectory: "/unused")
        let config = try JSONDecoder().decode(ClientConfig.self, from: Data(login.configJSON.utf8))
        #expect(Array(config.auths.keys) == [server])
        let credentials = try #require(config.auths[server])
        let auth = try #require(Data(base64Encoded: credentials.auth))
        #expect(String(decoding: auth, as: UTF8.self) == user + ":" + password)
    }
}
