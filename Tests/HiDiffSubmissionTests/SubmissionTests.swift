import HiDiffPipeline
import HiDiffSubmission
import XCTest

/// The rules `hidiff submit` and the HTTP API share.
final class SubmissionTests: XCTestCase {
    func submission(_ edit: (inout Submission) -> Void = { _ in }) -> Submission {
        var s = Submission(model: "shapes", template: GenerationRequest(prompt: "", width: 64, height: 64, steps: 6),
                           prompts: ["a red circle"], seeds: [1, 2])
        edit(&s)
        return s
    }

    func testAValidSubmissionBecomesOneJobPerPromptAndSeed() throws {
        let s = submission { $0.template.height = nil; $0.prompts = ["a", "b"]; $0.priority = 5; $0.maxAttempts = 2; $0.workers = 2 }
        XCTAssertNil(s.problem())
        let jobs = try s.jobs()
        XCTAssertEqual(jobs.count, 4)
        XCTAssertEqual(s.requests().map(\.prompt), ["a", "a", "b", "b"])
        XCTAssertEqual(s.requests().map(\.seed), [1, 2, 1, 2])
        XCTAssertEqual(jobs.map(\.priority), [5, 5, 5, 5])
        XCTAssertEqual(jobs.map(\.groupSize), [2, 2, 2, 2])
        XCTAssertEqual(jobs.map(\.steps), [6, 6, 6, 6])
        let decoded = try GenerationRequest(json: Data(jobs[2].requestJSON.utf8))
        XCTAssertEqual(decoded.prompt, "b")
        XCTAssertEqual(decoded.seed, 1)
    }

    func testProblemsNameTheFieldBothWays() {
        let cases: [(Submission, SubmissionField, String, String)] = [
            (submission { $0.maxAttempts = 0 }, .maxAttempts, "--max-attempts must be from 1 to 100 (got 0)", "max_attempts must be from 1 to 100 (got 0)"),
            (submission { $0.priority = 2_000_000 }, .priority, "--priority must be", "priority must be"),
            (submission { $0.batch = "" }, .batch, "--batch must be 1-200", "batch must be 1-200"),
            (submission { $0.prompts = [""] }, .prompts, "--prompt is empty", "prompt is empty"),
            (submission { $0.seeds = [] }, .seeds, "--seeds is empty", "seeds is empty"),
            (submission { $0.template.steps = 0 }, .request(.steps), "--steps must be from 1 to 1000 (got 0)", "steps must be from 1 to 1000 (got 0)"),
            (submission { $0.template.guidanceScale = 1e300 }, .request(.guidanceScale), "--cfg-scale must be", "guidance_scale must be"),
            (submission { $0.template.width = 100 }, .request(.width), "--width must be a positive multiple of 8", "width must be"),
            (submission { $0.template.strength = 0.5 }, .request(.strength), "--strength only applies", "strength only applies"),
            (submission { $0.workers = 65 }, .workers, "--workers must be from 1 to 64 (got 65)", "workers must be"),
            (submission { $0.initImage = [1, 2, 3] }, .initImage, "--init-image is not a PNG", "init_image is not a PNG"),
            (submission { $0.seeds = Array(0..<5001) ; $0.prompts = ["a", "b"] }, .seeds, "more than 10000 jobs", "more than 10000 jobs"),
        ]
        for (s, field, option, key) in cases {
            guard let problem = s.problem() else { XCTFail("accepted: \(option)"); continue }
            XCTAssertEqual(problem.field, field, option)
            XCTAssertTrue(problem.optionMessage.contains(option), problem.optionMessage)
            XCTAssertTrue(problem.keyMessage.contains(key), problem.keyMessage)
        }
    }

    func testTheModelMustBeOffered() {
        let s = submission()
        XCTAssertNil(s.modelProblem(known: ["shapes"]))
        XCTAssertTrue(s.modelProblem(known: [])!.keyMessage.contains("no worker has registered"))
        let other = s.modelProblem(known: ["sd15"])!
        XCTAssertEqual(other.field, .model)
        XCTAssertTrue(other.optionMessage.hasPrefix("no registered worker offers model shapes (known: sd15)"), other.optionMessage)
    }
}
