import FleetSupport
import Foundation
import Providers
import Testing
@testable import Streaming

/// What `streaming/metadata` holds for a call: its time in milliseconds, as the task API shows it.
@Suite struct StreamMetadataCodingTests {
    let metadata = StreamResultMetadata(streamId: "stream-1", model: "fast", provider: .openai, totalChunks: 3, totalTokens: 22,
                                        duration: .milliseconds(8) + .microseconds(123), attempts: 1, synchronous: false,
                                        synchronousFallback: false, discardedChunks: 0, backpressureEvents: 2)

    @Test("stored with durationMs, a number of milliseconds, and read back")
    func durationInMilliseconds() throws {
        for data in [try JSONEncoder().encode(metadata), try FastJSONEncoder().encodeToData(metadata)] {
            let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            #expect(object["durationMs"] as? Double == 8.123, "\(String(decoding: data, as: UTF8.self))")
            #expect(object["duration"] == nil && object["backpressureEvents"] as? Int == 2)
            #expect(try JSONDecoder().decode(StreamResultMetadata.self, from: data) == metadata)
        }
    }

    @Test("a record stored with Duration's [seconds, attoseconds] pair still reads")
    func earlierRecordsRead() throws {
        let earlier = #"""
        {"streamId":"stream-1","model":"fast","provider":"openai","totalChunks":3,"totalTokens":22,"duration":[0,8123000000000000],
         "attempts":1,"synchronous":false,"synchronousFallback":false,"discardedChunks":0,"backpressureEvents":2}
        """#
        #expect(try JSONDecoder().decode(StreamResultMetadata.self, from: Data(earlier.utf8)) == metadata)
    }
}
