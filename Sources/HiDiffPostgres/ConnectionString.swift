import CLibPQ
import Foundation

/// Helpers for libpq connection strings (`host=... password=...`) and `postgresql://` URLs.
public enum ConnectionString {
    /// `url` with any password replaced by `***`, for logs and error messages. Handles the URL form
    /// (`postgresql://user:secret@host/db`, `?password=secret`) and the keyword form
    /// (`password=secret`, `password = 'it''s \' secret'`).
    public static func redacted(_ url: String) -> String {
        var text = url
        if let range = text.range(of: "://") {
            // libpq reads user[:password] up to the first '@' before any '/'.
            let start = range.upperBound
            var cursor = start
            while cursor < text.endIndex, text[cursor] != "@", text[cursor] != "/" {
                cursor = text.index(after: cursor)
            }
            if cursor < text.endIndex, text[cursor] == "@",
               let colon = text[start..<cursor].firstIndex(of: ":") {
                text.replaceSubrange(text.index(after: colon)..<cursor, with: "***")
            }
            text = redactQueryParameter(text)
        } else {
            text = redactKeyword(text)
        }
        return text
    }

    /// The password a connection string carries (decoded), or nil.
    static func password(in url: String) -> String? {
        var errorMessage: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(url, &errorMessage) else {
            if let errorMessage { PQfreemem(errorMessage) }
            return nil
        }
        defer { PQconninfoFree(options) }
        var option = options
        while let keyword = option.pointee.keyword {
            if String(cString: keyword) == "password", let value = option.pointee.val {
                let password = String(cString: value)
                return password.isEmpty ? nil : password
            }
            option += 1
        }
        return nil
    }

    /// `text` with every occurrence of the password of `url` (decoded or as written) replaced by `***`.
    static func scrub(_ text: String, url: String) -> String {
        var result = text
        if let password = password(in: url) {
            result = result.replacingAll(password, with: "***")
        }
        let redactedURL = redacted(url)
        if redactedURL != url {
            result = result.replacingAll(url, with: redactedURL)
        }
        return result
    }

    /// `...?password=secret&...` -> `...?password=***&...`.
    private static func redactQueryParameter(_ text: String) -> String {
        guard let query = text.firstIndex(of: "?") else { return text }
        var result = String(text[..<text.index(after: query)])
        let parameters = text[text.index(after: query)...].split(separator: "&", omittingEmptySubsequences: false)
        result += parameters.map { parameter -> String in
            let parts = parameter.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            if parts.count == 2, parts[0].lowercased() == "password" { return "\(parts[0])=***" }
            return String(parameter)
        }.joined(separator: "&")
        return result
    }

    /// `password=secret` / `password = 'quoted \' value'` -> `password=***` in the keyword form.
    private static func redactKeyword(_ text: String) -> String {
        let chars = Array(text)
        var output = ""
        var i = 0
        while i < chars.count {
            // Keyword starts at the beginning or after whitespace.
            let atWordStart = i == 0 || chars[i - 1].isWhitespace
            if atWordStart, matchesKeyword(chars, at: i, "password") {
                var j = i + "password".count
                while j < chars.count, chars[j].isWhitespace { j += 1 }
                if j < chars.count, chars[j] == "=" {
                    j += 1
                    while j < chars.count, chars[j].isWhitespace { j += 1 }
                    if j < chars.count, chars[j] == "'" {
                        j += 1
                        while j < chars.count, chars[j] != "'" {
                            j += chars[j] == "\\" ? 2 : 1
                        }
                        j = min(j + 1, chars.count)
                    } else {
                        while j < chars.count, !chars[j].isWhitespace { j += 1 }
                    }
                    output += "password=***"
                    i = j
                    continue
                }
            }
            output.append(chars[i])
            i += 1
        }
        return output
    }

    private static func matchesKeyword(_ chars: [Character], at index: Int, _ keyword: String) -> Bool {
        var i = index
        for c in keyword {
            guard i < chars.count, chars[i].lowercased() == String(c) else { return false }
            i += 1
        }
        return true
    }
}

extension String {
    /// Every occurrence of `target` replaced (no Foundation needed).
    func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var result = ""
        var rest = self[...]
        while let range = rest.range(of: target) {
            result += rest[..<range.lowerBound]
            result += replacement
            rest = rest[range.upperBound...]
        }
        result += rest
        return result
    }
}
