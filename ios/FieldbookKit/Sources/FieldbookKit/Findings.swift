import Foundation
import FieldbookFFI

extension Array where Element == Finding {
    /// Findings about `path` or anything inside it: `location` also takes `location.description`.
    public func at(_ path: String) -> [Finding] {
        filter { $0.field.isWithin(path) }
    }

    /// Findings about `path` itself, for a heading above its parts.
    public func exactly(_ path: String) -> [Finding] {
        filter { $0.field == path }
    }

    /// Findings no field on the screen shows: they go in a summary, so none is hidden.
    public func outside(_ paths: [String]) -> [Finding] {
        filter { finding in !paths.contains { finding.field.isWithin($0) } }
    }
}

extension String {
    fileprivate func isWithin(_ path: String) -> Bool {
        self == path || hasPrefix(path + ".") || hasPrefix(path + "[")
    }
}

extension FieldbookError {
    /// What to tell the officer. The core's `detail` is written for them and never holds
    /// personal data; the cases without one get a sentence here.
    public var userMessage: String {
        switch self {
        case .Validation(let findings):
            let errors = findings.filter { $0.severity == .error }.count
            return errors == 0
                ? "Saved, with points to check (marked)."
                : "\(errors) thing(s) to put right first: see the marked fields."
        case .NotPermitted(_, let detail),
             .Offline(let detail),
             .ServerUnavailable(let detail),
             .AuthenticationExpired(_, let detail),
             .DeviceRevoked(let detail),
             .NotEnrolled(let detail),
             .RefusedByServer(_, let detail),
             .Storage(_, let detail):
            return detail
        case .NotFound:
            return "This record is no longer on this phone."
        case .Stale:
            return "The record changed while you were editing (a sync merged into it). It has been reloaded: check it and make your change again."
        case .Cancelled:
            return "Sync stopped. What it had done is kept."
        case .Other(let code, let detail):
            return "\(detail) [\(code)]"
        }
    }

    /// The findings of a refused save or submission, to show next to their fields.
    public var findings: [Finding] {
        if case .Validation(let findings) = self { return findings }
        return []
    }
}

extension Record {
    /// Id, kind, author and workflow, whatever the kind.
    public var meta: RecordMeta {
        switch self {
        case .crime(let value): return value.meta
        case .vna(let value): return value.meta
        case .stopSearch(let value): return value.meta
        case .issue(let value): return value.meta
        case .person(let value): return value.meta
        }
    }
}
