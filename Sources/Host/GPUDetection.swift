import Processes
import SBSCore

extension HostDetector {
    /// The GPU, judged by what nvidia-smi answers (not by its presence), then by PCI display devices and /dev/kfd.
    public func detectGPU() async -> GPUFacts {
        let pci = await pciDisplayDevices()
        let rocm = sysroot.exists("/dev/kfd")
        let pciNames = pci.map { "\($0.vendor):\($0.classCode)" }
        let hasNvidiaCard = pci.contains { $0.vendor == "10de" }

        let smi: CommandResult?
        do {
            smi = try await runner.run(
                ["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
                timeout: nvidiaSmiTimeout)
        } catch {
            smi = nil
        }
        var nvidiaReason: String?
        if let smi {
            if smi.timedOut {
                nvidiaReason = "nvidia-smi did not answer within \(Self.seconds(nvidiaSmiTimeout)) s (a hung driver)"
            } else if smi.status == 127 {
                nvidiaReason =
                    hasNvidiaCard ? "an NVIDIA card is present but nvidia-smi is not installed (no NVIDIA driver)" : nil
            } else if smi.status != 0 {
                nvidiaReason = "nvidia-smi failed (exit \(smi.status)): \(Self.firstLine(smi.stderr + smi.stdout))"
            } else {
                switch Self.parseNvidiaSmi(smi.stdout) {
                case .success(let cards):
                    let best = cards.max { $0.memoryMiB < $1.memoryMiB } ?? cards[0]
                    var facts = GPUFacts(
                        vendor: .nvidia, usable: true, name: best.name, memoryMiB: best.memoryMiB,
                        driverVersion: best.driver, count: cards.count, rocm: rocm,
                        pciDisplayDevices: pciNames,
                        reason:
                            "nvidia-smi reports \(cards.count == 1 ? "" : "\(cards.count) cards, the largest ")\(best.name) with \(best.memoryMiB) MiB, driver \(best.driver)"
                    )
                    if await !hasContainerToolkit() {
                        facts.usable = false
                        facts.reason +=
                            "; but the NVIDIA Container Toolkit (nvidia-ctk / nvidia-container-runtime) is missing, so containers cannot use it"
                    }
                    return facts
                case .failure(let problem):
                    nvidiaReason = "nvidia-smi answered but \(problem)"
                }
            }
        } else {
            nvidiaReason = "nvidia-smi could not be started"
        }

        if let nvidiaReason {
            return GPUFacts(
                vendor: .nvidia, usable: false, rocm: rocm, pciDisplayDevices: pciNames,
                reason: "No usable GPU: \(nvidiaReason)\(nvidiaReason.hasSuffix(".") ? "" : ".")")
        }
        if let amd = pci.first(where: { $0.vendor == "1002" }) {
            return GPUFacts(
                vendor: .amd, usable: false, rocm: rocm, pciDisplayDevices: pciNames,
                reason:
                    "An AMD GPU (PCI \(amd.vendor):\(amd.classCode))\(rocm ? " with ROCm (/dev/kfd)" : "") is present; the stack's GPU support is NVIDIA's, so Ollama runs on the CPU."
            )
        }
        if rocm {
            return GPUFacts(
                vendor: .amd, usable: false, rocm: true, pciDisplayDevices: pciNames,
                reason: "/dev/kfd (ROCm) exists; the stack's GPU support is NVIDIA's, so Ollama runs on the CPU.")
        }
        if let other = pci.first {
            let vendor: GPUVendor = other.vendor == "8086" ? .intel : .other
            return GPUFacts(
                vendor: vendor, usable: false, pciDisplayDevices: pciNames,
                reason:
                    "Only a \(vendor == .intel ? "Intel" : "basic") display adapter (PCI \(other.vendor):\(other.classCode)); no GPU for AI models."
            )
        }
        return GPUFacts(vendor: .none, usable: false, reason: "No GPU found.")
    }

    struct NvidiaCard: Equatable {
        var name: String
        var memoryMiB: Int
        var driver: String
    }

    enum ParseOutcome: Equatable {
        case success([NvidiaCard])
        case failure(String)
    }

    /// Lines such as `NVIDIA GeForce RTX 4090, 24564 MiB, 550.54.14`.
    static func parseNvidiaSmi(_ text: String) -> ParseOutcome {
        var cards: [NvidiaCard] = []
        for line in text.split(separator: "\n") where !line.trimmingSpaces.isEmpty {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingSpaces }
            guard fields.count == 3 else {
                return .failure("its line '\(line.trimmingSpaces.prefix(120))' is not name, memory, driver")
            }
            let memoryField = fields[1].split(separator: " ")
            guard let number = memoryField.first.flatMap({ Int($0) }), number > 0 else {
                return .failure("it gives no memory size for \(fields[0]) ('\(fields[1])')")
            }
            let unit = memoryField.dropFirst().first.map(String.init) ?? "MiB"
            let mib = unit == "GiB" ? number * 1024 : number
            cards.append(NvidiaCard(name: fields[0], memoryMiB: mib, driver: fields[2]))
        }
        return cards.isEmpty ? .failure("listed no GPU") : .success(cards)
    }

    func hasContainerToolkit() async -> Bool {
        for program in ["nvidia-ctk", "nvidia-container-runtime"] {
            if let result = try? await runner.run([program, "--version"], timeout: toolTimeout), result.status == 0 {
                return true
            }
        }
        return false
    }

    struct PCIDevice: Equatable {
        /// Four lower-case hex digits (`10de`).
        var vendor: String
        /// Class and subclass, four hex digits (`0300` VGA, `0302` 3D controller, `0380` other display).
        var classCode: String
    }

    /// Display-class PCI devices (class 0x03), from sysfs, or from `lspci -n` when sysfs lists none.
    /// A chipset or audio function of an AMD or NVIDIA card is not a display device and is ignored.
    func pciDisplayDevices() async -> [PCIDevice] {
        var devices: [PCIDevice] = []
        let names = sysroot.list("/sys/bus/pci/devices")
        for name in names {
            guard let classText = sysroot.readLine("/sys/bus/pci/devices/\(name)/class"),
                let vendorText = sysroot.readLine("/sys/bus/pci/devices/\(name)/vendor")
            else { continue }
            let classHex = classText.lowercased().hasPrefix("0x") ? String(classText.dropFirst(2)) : classText
            let vendor = vendorText.lowercased().hasPrefix("0x") ? String(vendorText.dropFirst(2)) : vendorText
            guard classHex.count >= 4, classHex.hasPrefix("03") else { continue }
            devices.append(PCIDevice(vendor: vendor.lowercased(), classCode: String(classHex.prefix(4)).lowercased()))
        }
        if !names.isEmpty { return devices }
        guard let lspci = try? await runner.run(["lspci", "-n"], timeout: toolTimeout), lspci.status == 0 else {
            return []
        }
        // "01:00.0 0300: 10de:2684 (rev a1)"
        for line in lspci.stdout.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count >= 3, fields[1].hasSuffix(":") else { continue }
            let classCode = fields[1].dropLast().lowercased()
            let ids = fields[2].split(separator: ":")
            guard classCode.hasPrefix("03"), ids.count == 2 else { continue }
            devices.append(PCIDevice(vendor: ids[0].lowercased(), classCode: String(classCode.prefix(4))))
        }
        return devices
    }

    static func seconds(_ duration: Duration) -> Int64 { duration.components.seconds }
}
