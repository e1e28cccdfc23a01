import Agents
import Testing
@testable import fleetd

/// How a request's `cache-control` header picks the response cache's policy, as clients write it.
struct CachePolicyHeaderTests {
    @Test("no-store bypasses the cache and wins over no-cache; no-cache refreshes; anything else uses it",
          arguments: [
              (nil, CachePolicy.use), ("", .use), ("max-age=0", .use), ("no-cache=\"set-cookie\"", .use), ("private", .use),
              ("no-store", .bypass), ("No-Store", .bypass), ("  no-store  ", .bypass), ("max-age=0, no-store", .bypass),
              ("no-cache", .refresh), ("NO-CACHE", .refresh), ("max-age=0,no-cache", .refresh), ("no-cache,\tmax-age=0", .refresh),
              ("no-cache, no-store", .bypass), ("no-store,no-cache", .bypass), (",,no-cache,", .refresh),
          ] as [(String?, CachePolicy)])
    func policyFromHeader(header: String?, expected: CachePolicy) {
        #expect(CachePolicy(cacheControl: header) == expected)
    }
}
