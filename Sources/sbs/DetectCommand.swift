import ArgumentParser

struct DetectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "detect", abstract: "Not built yet.")
    @OptionGroup var global: GlobalOptions
    func run() async throws { throw ValidationError("not built yet") }
}
