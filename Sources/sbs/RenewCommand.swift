import ArgumentParser

struct RenewCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "renew", abstract: "Not built yet.")
    @OptionGroup var global: GlobalOptions
    func run() async throws { throw ValidationError("not built yet") }
}
