import Foundation
import HiDiffEval
import HiDiffImage
import HiDiffTestSupport
import XCTest

/// `ObjectCounter` against the reference `tools/train/count_objects.py`, on the images of
/// `Tests/Fixtures/eval/` (written by `tools/train/count_fixture.py`).
final class ObjectCounterTests: XCTestCase {
    private func fixture() throws -> [String: Any] {
        try XCTUnwrap(Fixtures.json("eval/counts.json") as? [String: Any])
    }

    func testConstantsMatchReference() throws {
        let f = try fixture()
        XCTAssertEqual(f["min_area"] as? Int, ObjectCounter.defaultMinArea)
        XCTAssertEqual(Float(try XCTUnwrap(f["chroma_min"] as? Double)), ObjectCounter.chromaMin)
        XCTAssertEqual(ObjectCounter().minArea, 24)
    }

    func testComponentAreasAndCountsMatchReference() throws {
        let images = try XCTUnwrap(fixture()["images"] as? [[String: Any]])
        XCTAssertGreaterThanOrEqual(images.count, 9)
        let counter = ObjectCounter()
        for entry in images {
            let file = try XCTUnwrap(entry["file"] as? String)
            let image = try PNGReader.read(Fixtures.path("eval/\(file)"))
            XCTAssertEqual(image.width, entry["width"] as? Int, file)
            XCTAssertEqual(image.height, entry["height"] as? Int, file)
            let areas = try XCTUnwrap(entry["areas"] as? [String: [Int]], file)
            let counts = try XCTUnwrap(entry["counts"] as? [String: Int], file)
            for colour in ObjectColour.allCases {
                let expected = try XCTUnwrap(areas[colour.rawValue], "\(file) \(colour)")
                XCTAssertEqual(ObjectCounter.componentAreas(image: image, colour: colour), expected,
                               "\(file): component areas of \(colour)")
                XCTAssertEqual(counter.count(image: image, colour: colour), counts[colour.rawValue],
                               "\(file): objects of \(colour)")
            }
            let prompt = try XCTUnwrap(entry["prompt"] as? String)
            let colour = try XCTUnwrap(ObjectCounter.promptColour(prompt), prompt)
            XCTAssertEqual(colour.rawValue, entry["colour"] as? String, file)
            XCTAssertEqual(counter.count(image: image, colour: colour), entry["count"] as? Int, file)
        }
    }

    /// Pixel-exact classification where it is hardest: hues on and next to every bin border, chroma at 0.30.
    func testLabelMapsMatchReference() throws {
        let maps = try XCTUnwrap(fixture()["labels"] as? [String: String])
        XCTAssertEqual(Set(maps.keys), ["hue_edges.png", "hue_sweep.png"])
        for (file, expected) in maps {
            let image = try PNGReader.read(Fixtures.path("eval/\(file)"))
            let labels = ObjectCounter.classify(image)
            let text = String(labels.map { Character(String($0)) })
            XCTAssertEqual(text.count, expected.count, file)
            let mismatches = zip(text, expected).enumerated().filter { $0.element.0 != $0.element.1 }
            XCTAssertTrue(mismatches.isEmpty, "\(file): \(mismatches.count) pixels classified differently, first at "
                          + "\(mismatches.first.map { "pixel \($0.offset): \($0.element.0) vs \($0.element.1)" } ?? "")")
        }
    }

    func testPromptColourMatchesReference() throws {
        let cases = try XCTUnwrap(fixture()["prompt_colours"] as? [[String: Any]])
        XCTAssertFalse(cases.isEmpty)
        for c in cases {
            let prompt = try XCTUnwrap(c["prompt"] as? String)
            XCTAssertEqual(ObjectCounter.promptColour(prompt)?.rawValue, c["colour"] as? String, "prompt \"\(prompt)\"")
        }
    }

    /// The area threshold is inclusive and configurable: with minArea 1 every component is an object.
    func testMinAreaThreshold() throws {
        let image = try PNGReader.read(Fixtures.path("eval/specks.png"))
        let areas = ObjectCounter.componentAreas(image: image, colour: .blue)
        XCTAssertEqual(ObjectCounter(minArea: 1).count(image: image, colour: .blue), areas.count)
        XCTAssertEqual(ObjectCounter(minArea: 24).count(image: image, colour: .blue), areas.filter { $0 >= 24 }.count)
        XCTAssertEqual(ObjectCounter(minArea: 25).count(image: image, colour: .blue), areas.filter { $0 >= 25 }.count)
        XCTAssertTrue(areas.contains(23) && areas.contains(24), "the fixture straddles the threshold")
    }
}
