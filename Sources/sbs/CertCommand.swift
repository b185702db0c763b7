import ArgumentParser

struct CertCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cert", abstract: "Not built yet.")
    @OptionGroup var global: GlobalOptions
    func run() async throws { throw ValidationError("not built yet") }
}
