import Testing
@testable import FleetSupport

@Suite("LocalID")
struct LocalIDTests {
    @Test func idsDoNotRepeatAcrossThreads() async {
        let batches = await withTaskGroup(of: [UInt64].self) { group in
            for _ in 0..<4 { group.addTask { (0..<50_000).map { _ in LocalID.next() } } }
            var all: [UInt64] = []
            for await batch in group { all += batch }
            return all
        }
        #expect(Set(batches).count == 200_000)
    }

    @Test func textIsBase36OfTheAskedLength() {
        let texts = (0..<10_000).map { _ in LocalID.text(length: 8) }
        #expect(Set(texts).count == texts.count)
        #expect(texts.allSatisfy { $0.utf8.count == 8 && $0.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x7A).contains($0) } })
        #expect(LocalID.text(length: 40).utf8.count == 12)
        #expect(LocalID.text(length: 0).utf8.count == 1)
    }

    @Test func consecutiveIdsDoNotLookSequential() {
        let a = LocalID.next(), b = LocalID.next()
        #expect((a ^ b).nonzeroBitCount > 8)
    }
}
