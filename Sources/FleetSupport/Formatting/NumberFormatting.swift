// Number formatting for reasons, traces and reports.

/// Two decimals, for reasons and traces.
public func fmt(_ value: Double) -> String { fixed(value, digits: 2) }

/// Dollars with enough digits for small per-task costs.
public func money(_ value: Double) -> String {
    value == 0 ? "$0" : fixed(value, digits: abs(value) < 0.01 ? 6 : 4, prefix: UInt8(ascii: "$"))
}

/// `value` with exactly `digits` decimals (half away from zero). Hand-rolled: `String(format:)`
/// is slow on Linux and runs on every decision for every model; the digits are written into one
/// buffer and made a string once (building it from pieces was about 0.5% of a task's CPU on
/// `config/fleet.yaml`'s path, the budget line and the reasons each routing decision writes).
public func fixed(_ value: Double, digits: Int) -> String {
    fixed(value, digits: digits, prefix: nil)
}

/// `prefix` goes after the sign and before the digits (`-$0.25`).
private func fixed(_ value: Double, digits: Int, prefix: UInt8?) -> String {
    guard value.isFinite, (0...15).contains(digits) else { return "\(value)" }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let scaled = (abs(value) * scale).rounded()
    guard scaled < 9e15 else { return "\(value)" }
    var units = Int(scaled)
    let negative = value < 0 && units != 0
    // Written from the right: the decimals, the point, the whole part, the prefix and the sign.
    return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 40) { buffer in
        var start = buffer.count
        func put(_ byte: UInt8) {
            start -= 1
            buffer[start] = byte
        }
        for _ in 0..<digits {
            put(UInt8(ascii: "0") + UInt8(units % 10))
            units /= 10
        }
        if digits > 0 { put(UInt8(ascii: ".")) }
        repeat {
            put(UInt8(ascii: "0") + UInt8(units % 10))
            units /= 10
        } while units > 0
        if let prefix { put(prefix) }
        if negative { put(UInt8(ascii: "-")) }
        return String(decoding: UnsafeBufferPointer(rebasing: buffer[start...]), as: UTF8.self)
    }
}
