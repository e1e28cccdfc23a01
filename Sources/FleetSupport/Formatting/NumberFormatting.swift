// Number formatting for reasons, traces and reports.

/// Two decimals, for reasons and traces.
public func fmt(_ value: Double) -> String { fixed(value, digits: 2) }

/// Dollars with enough digits for small per-task costs.
public func money(_ value: Double) -> String {
    value == 0 ? "$0" : "$" + fixed(value, digits: value < 0.01 ? 6 : 4)
}

/// `value` with exactly `digits` decimals. Hand-rolled: `String(format:)` is slow on Linux and runs on every
/// decision for every model.
public func fixed(_ value: Double, digits: Int) -> String {
    guard value.isFinite else { return "\(value)" }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let scaled = (abs(value) * scale).rounded()
    guard scaled < 9e15 else { return "\(value)" }
    let units = Int(scaled)
    let whole = units / Int(scale)
    let fraction = String(units % Int(scale))
    let padded = String(repeating: "0", count: max(0, digits - fraction.count)) + fraction
    return (value < 0 && units != 0 ? "-" : "") + "\(whole)" + (digits > 0 ? "." + padded : "")
}
