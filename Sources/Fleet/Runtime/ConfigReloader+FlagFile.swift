import Foundation

extension ConfigReloader {
    /// Takes in the runtime flag changes another process on the same data directory made: `fleetd
    /// mcp` beside `fleetd serve` (both with `--data-dir D`) share the file of changes, and each
    /// polls it with the config file (a `stat`, the file read only when it moved). When its
    /// changes differ from the ones in force, they are put in force. Returns whether they were.
    /// With a shared store (PostgreSQL) changes go through it instead, and this does nothing.
    /// - Throws: ``RuntimeFlagStoreError`` when the file cannot be read, or the applier's error;
    ///   either way the running config stays.
    public func adoptFlagFileChanges() async throws -> Bool {
        guard shared == nil, let path = flagStore.url?.path, FileStamp(path: path) != flagFileStamp else { return false }
        await beginChange()
        defer { endChange() }
        // Stamped before the read: a write after it moves the stamp again, and the next poll reads that.
        flagFileStamp = FileStamp(path: path)
        let changes = try flagStore.load()
        guard Self.settings(changes) != Self.settings(runtimeChanges) else { return false }
        try await commit(Self.apply(changes, to: fileConfig), runtimeChanges: changes)
        runtimeChanges = changes
        return true
    }

    /// Each flag and scope's setting: what two lists of changes put in force, whatever their order and times.
    static func settings(_ changes: [RuntimeFlagStore.Change]) -> [String: FlagSetting] {
        Dictionary(changes.map { ("\($0.flag)@\($0.scope)", $0.setting) }, uniquingKeysWith: { $1 })
    }
}
