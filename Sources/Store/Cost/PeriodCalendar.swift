import Foundation
import Synchronization

/// Budget and quota period boundaries in one time zone.
///
/// Days run midnight to midnight, weeks are ISO-8601 (Monday start, week 1 holds the year's
/// first Thursday), months are calendar months. Keys: day `2026-01-31`, week `2026-W05`,
/// month `2026-01`. Two instants are in the same period exactly when their keys are equal.
public struct PeriodCalendar: Sendable, Hashable {
    public let timeZone: TimeZone
    private let calendar: Calendar
    /// The last period seen of each kind and its key: every reserve, settle and quota check asks
    /// for the current keys, and Foundation's calendar arithmetic is costly on that path (see
    /// docs/performance.md).
    private let recent = RecentPeriods()

    public init(timeZone: TimeZone = TimeZone(identifier: "UTC") ?? .gmt) {
        self.timeZone = timeZone
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        calendar.firstWeekday = 2
        calendar.minimumDaysInFirstWeek = 4
        calendar.locale = Locale(identifier: "en_US_POSIX")
        self.calendar = calendar
    }

    /// A calendar for a time-zone identifier such as `UTC` or `Europe/Berlin`.
    /// - Throws: ``CostError`` `.invalidConfiguration` for an unknown identifier.
    public init(timeZoneIdentifier: String) throws {
        guard let zone = TimeZone(identifier: timeZoneIdentifier) else {
            throw CostError(.invalidConfiguration, "unknown time zone '\(timeZoneIdentifier)' (use an IANA name such as UTC or Europe/Berlin)")
        }
        self.init(timeZone: zone)
    }

    public static func == (lhs: PeriodCalendar, rhs: PeriodCalendar) -> Bool {
        lhs.timeZone == rhs.timeZone
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(timeZone)
    }

    /// The key of the period containing `date`.
    public func key(_ period: BudgetPeriod, at date: Date) -> String {
        if let key = recent.key(period, at: date) { return key }
        let key = computeKey(period, at: date)
        recent.remember(period, interval: interval(period, containing: date), key: key)
        return key
    }

    private func computeKey(_ period: BudgetPeriod, at date: Date) -> String {
        switch period {
        case .day:
            let c = calendar.dateComponents([.year, .month, .day], from: date)
            return String(format: "%04d-%02d-%02d", c.year ?? 0, c.month ?? 0, c.day ?? 0)
        case .week:
            let c = calendar.dateComponents([.yearForWeekOfYear, .weekOfYear], from: date)
            return String(format: "%04d-W%02d", c.yearForWeekOfYear ?? 0, c.weekOfYear ?? 0)
        case .month:
            let c = calendar.dateComponents([.year, .month], from: date)
            return String(format: "%04d-%02d", c.year ?? 0, c.month ?? 0)
        }
    }

    /// The start (inclusive) and end (exclusive) of the period containing `date`.
    public func interval(_ period: BudgetPeriod, containing date: Date) -> DateInterval {
        let component: Calendar.Component = switch period {
        case .day: .day
        case .week: .weekOfYear
        case .month: .month
        }
        if let interval = calendar.dateInterval(of: component, for: date) { return interval }
        // Foundation only fails here for dates outside the calendar's range; fall back to a
        // fixed-length window so callers still get a usable range.
        let length: TimeInterval = switch period {
        case .day: 86_400
        case .week: 7 * 86_400
        case .month: 31 * 86_400
        }
        return DateInterval(start: date.addingTimeInterval(-length), duration: length)
    }
}

/// The most recent period of each kind with its key (a cache for ``PeriodCalendar/key(_:at:)``).
private final class RecentPeriods: Sendable {
    private let periods = Mutex<[BudgetPeriod: (interval: DateInterval, key: String)]>([:])

    func key(_ period: BudgetPeriod, at date: Date) -> String? {
        periods.withLock { periods in
            guard let recent = periods[period], recent.interval.start <= date, date < recent.interval.end else { return nil }
            return recent.key
        }
    }

    func remember(_ period: BudgetPeriod, interval: DateInterval, key: String) {
        periods.withLock { $0[period] = (interval, key) }
    }
}
