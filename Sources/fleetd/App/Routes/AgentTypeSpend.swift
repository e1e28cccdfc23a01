import Agents
import Store

/// Spend per agent type: the ledger records which agent ran each call (`general-2`), the
/// dashboard's Spend page wants the type (`general`).
struct AgentTypeSpend: Encodable, Equatable {
    var name: String
    /// US dollars.
    var cost: Double
    var entries: Int
    var inputTokens: Int
    var outputTokens: Int
    var cachedTokens: Int

    /// Sums `lines` by agent type: the type of the running agent with that id, else the id without
    /// its `-<sequence>` suffix (an agent a reload removed), else the id itself (`-`: no agent).
    /// Most expensive first.
    static func group(_ lines: [CostReport.Line], types: [AgentStatus]) -> [AgentTypeSpend] {
        let known = Dictionary(types.map { ($0.id, $0.type) }, uniquingKeysWith: { first, _ in first })
        var sums: [String: AgentTypeSpend] = [:]
        for line in lines {
            let type = known[line.name] ?? Self.typeFromId(line.name)
            var sum = sums[type] ?? AgentTypeSpend(name: type, cost: 0, entries: 0, inputTokens: 0, outputTokens: 0, cachedTokens: 0)
            sum.cost += line.cost
            sum.entries += line.entries
            sum.inputTokens += line.inputTokens
            sum.outputTokens += line.outputTokens
            sum.cachedTokens += line.cachedTokens
            sums[type] = sum
        }
        return sums.values.sorted { ($0.cost, $1.name) > ($1.cost, $0.name) }
    }

    /// `coder-3` → `coder`; an id without a numeric suffix stays as it is.
    static func typeFromId(_ id: String) -> String {
        guard let dash = id.lastIndex(of: "-"), id.index(after: dash) < id.endIndex,
              id[id.index(after: dash)...].allSatisfy(\.isNumber), dash > id.startIndex else { return id }
        return String(id[..<dash])
    }
}
