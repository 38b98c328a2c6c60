import ArgumentParser
import HiDiffSubmission

/// `--seeds 1-8`, `--seeds 3,5,9`, or both mixed (`1-4,10`): the seeds of a batch, in the order given.
enum SeedList {
    /// The most seeds one submission may expand to.
    static let limit = SubmissionLimits.maxJobs

    static func parse(_ text: String) throws -> [UInt64] {
        var seeds: [UInt64] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let bounds = part.split(separator: "-", omittingEmptySubsequences: false)
            guard (1...2).contains(bounds.count), let first = UInt64(bounds[0]),
                  let last = bounds.count == 2 ? UInt64(bounds[1]) : first else {
                throw ValidationError("--seeds: \"\(part)\" is not a seed or a range A-B of non-negative integers")
            }
            guard first <= last else { throw ValidationError("--seeds: range \(part) runs backwards") }
            guard last - first < UInt64(limit), seeds.count + Int(last - first) + 1 <= limit else {
                throw ValidationError("--seeds: more than \(limit) seeds; split the batch")
            }
            seeds += Array(first...last)
        }
        return seeds
    }
}
