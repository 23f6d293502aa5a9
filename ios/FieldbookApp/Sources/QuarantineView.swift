import SwiftUI
import UIKit
import UniformTypeIdentifiers
import FieldbookKit

/// What the server refused and this phone kept, oldest first. The live record was rebuilt from
/// the server's version with what the rules allow; each item holds what the officer typed beyond
/// that. Items leave only when the officer dismisses them, on the detail, after a confirmation.
struct QuarantineView: View {
    @EnvironmentObject private var store: FieldbookStore
    @State private var items: [QuarantineItem] = []
    @State private var message: String?

    var body: some View {
        List {
            if let message {
                Section { Text(message).foregroundStyle(.red) }
            }
            Section {
                if items.isEmpty {
                    Text("Nothing refused.").foregroundStyle(.secondary)
                } else {
                    Text("The server refused these changes. Your records now hold the server's version with what the rules allow; what you typed beyond that is kept here. Open each one, copy what you still need, then dismiss it.")
                        .font(.footnote)
                }
            }
            Section {
                ForEach(items, id: \.id) { item in
                    NavigationLink(value: Route.quarantined(item)) { QuarantineRow(item: item) }
                }
            }
        }
        .navigationTitle("Refused by the server")
        .task { await load() }
        .refreshable { await load() }
        // A finished sync may have kept more; a dismissal changes the count too.
        .onChange(of: store.syncStatus) { _ in Task { await load() } }
    }

    private func load() async {
        do {
            items = try await store.quarantine()
            message = nil
        } catch let error as FieldbookError {
            message = error.userMessage
        } catch {
            message = error.localizedDescription
        }
    }
}

private struct QuarantineRow: View {
    let item: QuarantineItem
    private static let shown = 3

    var body: some View {
        VStack(alignment: .leading, spacing: 6) {
            Text(item.kind.label).font(.headline)
            Text("Refused \(item.at.formatted(date: .abbreviated, time: .shortened))")
                .font(.footnote)
                .foregroundStyle(.secondary)
            Text(item.reason)
            if let field = item.field {
                Text("About: \(fieldLabel(field))").font(.footnote)
            }
            QuarantineNotes(item: item)
            ForEach(item.refused.prefix(Self.shown), id: \.self) { diff in
                RefusedFieldView(diff: diff, showKept: !item.removed, lineLimit: 3)
            }
            if item.refused.count > Self.shown {
                Text("and \(item.refused.count - Self.shown) more field(s)").font(.footnote)
            }
            // The rule's code, for a support call; the reason above is the officer's.
            Text(item.rule).font(.caption2).foregroundStyle(.secondary)
        }
        .padding(.vertical, 4)
    }
}

/// The refused version of one record, to read and copy from: what the server refused, then every
/// piece of free text the version holds, each with a copy button so nothing typed is lost.
struct QuarantinedRecordView: View {
    let item: QuarantineItem
    @EnvironmentObject private var store: FieldbookStore
    @Environment(\.dismiss) private var close
    @State private var record: Record?
    @State private var message: String?
    @State private var busy = false
    @State private var confirming = false
    @State private var copied: String?

    init(item: QuarantineItem) {
        self.item = item
    }

    var body: some View {
        List {
            Section {
                VStack(alignment: .leading, spacing: 4) {
                    Text(item.kind.label).font(.headline)
                    Text("Refused \(item.at.formatted(date: .abbreviated, time: .shortened)) [\(item.rule)]")
                        .font(.footnote)
                        .foregroundStyle(.secondary)
                    Text(item.reason)
                    if let field = item.field {
                        Text("About: \(fieldLabel(field))").font(.footnote)
                    }
                    QuarantineNotes(item: item)
                }
                // A removed record has no live version to open: its text goes into a new one.
                if !item.removed {
                    NavigationLink("Open the record", value: Route.record(item.kind, item.recordId))
                }
            }
            if let message {
                Section { Text(message).foregroundStyle(.red) }
            }
            if !item.refused.isEmpty {
                Section(item.removed ? "What you typed" : "What the server refused") {
                    ForEach(item.refused, id: \.self) { diff in
                        RefusedFieldView(diff: diff, showKept: !item.removed, copied: copied) { copy($0, as: diff.field) }
                    }
                }
            }
            if let record {
                refusedText(record.typedTexts)
            }
            Section {
                Button("Dismiss", role: .destructive) { confirming = true }
                    .disabled(busy)
            }
        }
        .navigationTitle("Refused version")
        .overlay { if busy { ProgressView() } }
        .task { await load() }
        .alert("Dismiss this refused version?", isPresented: $confirming) {
            Button("I have copied what I need", role: .destructive) { Task { await dismissItem() } }
            Button("Cancel", role: .cancel) {}
        } message: {
            Text("It is deleted from this phone and cannot be read again; the server never had it. Copy anything you still need first.")
        }
    }

    @ViewBuilder
    private func refusedText(_ texts: [TypedText]) -> some View {
        Section {
            if texts.isEmpty {
                Text("It holds no free text.").foregroundStyle(.secondary)
            } else {
                Button(copied == "all" ? "Copied" : "Copy all text") {
                    copy(texts.map { "\($0.label):\n\($0.text)" }.joined(separator: "\n\n"), as: "all")
                }
            }
            ForEach(texts, id: \.self) { typed in
                let refused = item.refused.contains { fieldPath(typed.path, isWithin: $0.field) || fieldPath($0.field, isWithin: typed.path) }
                VStack(alignment: .leading, spacing: 4) {
                    HStack {
                        VStack(alignment: .leading, spacing: 2) {
                            Text(typed.label).font(.subheadline.weight(.semibold))
                            if refused {
                                Text(item.removed ? "Only on this phone" : "Not on the record now")
                                    .font(.caption)
                                    .foregroundStyle(.red)
                            }
                        }
                        Spacer()
                        Button(copied == typed.path ? "Copied" : "Copy") { copy(typed.text, as: typed.path) }
                            .buttonStyle(.borderless)
                    }
                    Text(typed.text).textSelection(.enabled)
                }
                .listRowBackground(refused ? Color.red.opacity(0.08) : nil)
            }
        } header: {
            Text("The refused version, as you typed it")
        } footer: {
            Text("Copy anything you still need before you dismiss this.")
        }
    }

    private func load() async {
        do {
            record = try await store.quarantinedRecord(item.recordId, quarantineId: item.id)
        } catch let error as FieldbookError {
            message = error.userMessage
        } catch {
            message = error.localizedDescription
        }
    }

    /// Deletes the kept state for good; reached only through the confirmation.
    private func dismissItem() async {
        busy = true
        defer { busy = false }
        do {
            try await store.dismissQuarantine(item.id)
            close()
        } catch let error as FieldbookError {
            message = error.userMessage
        } catch {
            message = error.localizedDescription
        }
    }

    /// Onto this phone's clipboard only (no Universal Clipboard to the officer's other devices):
    /// it may hold a victim's details or a search's grounds.
    private func copy(_ text: String, as key: String) {
        UIPasteboard.general.setItems([[UTType.utf8PlainText.identifier: text]], options: [.localOnly: true])
        copied = key
    }
}

/// What became of the record, in one or two sentences.
struct QuarantineNotes: View {
    let item: QuarantineItem

    var body: some View {
        if item.removed {
            Text("The server never held this record: it is only on this phone now. Copy what you need into a new record before you dismiss it.")
                .font(.footnote)
                .foregroundStyle(.red)
        } else if item.refused.isEmpty {
            Text("Everything you typed was put back on the record.").font(.footnote)
        }
        // Workflow steps are never re-applied: a refused submission has to be made again.
        if !item.removed && item.refused.contains(where: { fieldPath($0.field, isWithin: "meta.workflow") }) {
            Text("A workflow step (submit, approve or return) was refused: open the record and do it again if it is still needed.")
                .font(.footnote)
                .foregroundStyle(.orange)
        }
    }
}

/// One refused field: what the officer typed against what the record keeps now.
struct RefusedFieldView: View {
    let diff: FieldDiff
    let showKept: Bool
    var lineLimit: Int?
    var copied: String?
    var onCopy: ((String) -> Void)?

    var body: some View {
        let typed = readableJSON(diff.newJson)
        VStack(alignment: .leading, spacing: 2) {
            Text(fieldLabel(diff.field)).font(.subheadline.weight(.semibold))
            Text("You typed").font(.caption).foregroundStyle(.red)
            Text(typed.trimmed.isEmpty ? "(nothing)" : typed).lineLimit(lineLimit)
            if showKept {
                let kept = readableJSON(diff.oldJson)
                Text("Kept").font(.caption).foregroundStyle(.blue)
                Text(kept.trimmed.isEmpty ? "(nothing)" : kept).lineLimit(lineLimit)
            }
            if let onCopy, !typed.trimmed.isEmpty {
                Button(copied == diff.field ? "Copied" : "Copy what you typed") { onCopy(typed) }
                    .buttonStyle(.borderless)
            }
        }
    }
}

// MARK: Refused values as words

// The quarantine gives refused values as JSON text (`FieldDiff.oldJson` / `newJson`); officers
// see them as words: text unquoted, yes/no, lists. Nothing here judges a value.

/// A refused value as the officer reads it; "" for null or absent, malformed JSON as it is.
func readableJSON(_ json: String) -> String {
    guard let data = json.data(using: .utf8),
          let value = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
    else { return json }
    return readable(value)
}

private func readable(_ value: Any) -> String {
    switch value {
    case is NSNull:
        return ""
    case let number as NSNumber:
        if CFGetTypeID(number) == CFBooleanGetTypeID() { return number.boolValue ? "Yes" : "No" }
        return number.stringValue
    case let text as String:
        return readableTime(text) ?? text
    case let array as [Any]:
        let texts = array.map(readable).filter { !$0.trimmed.isEmpty }
        let scalars = array.allSatisfy { !($0 is [Any]) && !($0 is [String: Any]) }
        return texts.joined(separator: scalars ? ", " : "\n")
    case let object as [String: Any]:
        // A workflow step (submitted, approved...): its heads are hashes nobody reads.
        if let action = object["action"], let by = object["by"] {
            return ["\(readable(action)) by \(readable(by))", object["at"].map(readable) ?? "", object["reason"].map(readable) ?? ""]
                .filter { !$0.isEmpty }
                .joined(separator: ", ")
        }
        return object.keys.sorted().compactMap { key in
            let text = readable(object[key] ?? NSNull())
            return text.trimmed.isEmpty ? nil : "\(key.replacingOccurrences(of: "_", with: " ")): \(text)"
        }
        .joined(separator: "\n")
    default:
        return "\(value)"
    }
}

/// Times are stored as RFC 3339 text; show them like every other time in the app.
private func readableTime(_ text: String) -> String? {
    guard text.count >= 20, text.dropFirst(10).first == "T" else { return nil }
    let plain = ISO8601DateFormatter()
    let fractional = ISO8601DateFormatter()
    fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    guard let date = plain.date(from: text) ?? fractional.date(from: text) else { return nil }
    return date.formatted(date: .abbreviated, time: .shortened)
}

private let fieldLabels = [
    "meta.workflow": "Workflow steps (submit, approve, return)",
    "location.description": "Place",
    "search_location.description": "Place searched",
    "type": "Type of search",
]

/// A field path (`thrive.advice_given`) as a label (`Thrive › advice given`).
func fieldLabel(_ path: String) -> String {
    if let label = fieldLabels[path] { return label }
    let words = path.split(separator: ".").map { $0.replacingOccurrences(of: "_", with: " ") }.joined(separator: " › ")
    return words.prefix(1).uppercased() + words.dropFirst()
}

/// Whether `path` is `field` or inside it (`thrive.risk` is inside `thrive`).
func fieldPath(_ path: String, isWithin field: String) -> Bool {
    path == field || path.hasPrefix(field + ".") || path.hasPrefix(field + "[")
}

// MARK: The free text of a record

/// A piece of free text in a record: what the officer typed and may need to copy elsewhere.
struct TypedText: Hashable {
    let label: String
    let path: String
    let text: String
}

private func typed(_ label: String, _ path: String, _ text: String?) -> TypedText? {
    guard let text, !text.trimmed.isEmpty else { return nil }
    return TypedText(label: label, path: path, text: text)
}

private func thriveTexts(_ thrive: Thrive?) -> [TypedText?] {
    guard let t = thrive else { return [] }
    return [
        typed("THRIVE: threat", "thrive.threat", t.threat),
        typed("THRIVE: harm", "thrive.harm", t.harm),
        typed("THRIVE: risk", "thrive.risk", t.risk),
        typed("THRIVE: investigation", "thrive.investigation", t.investigation),
        typed("THRIVE: vulnerability", "thrive.vulnerability", t.vulnerability),
        typed("THRIVE: engagement", "thrive.engagement", t.engagement),
        typed("THRIVE: advice given", "thrive.advice_given", t.adviceGiven),
    ]
}

extension Record {
    /// The record's free-text fields that hold something, in the order its editing screen shows them.
    var typedTexts: [TypedText] {
        var texts: [TypedText?] = []
        switch self {
        case .crime(let c):
            texts.append(typed("Place", "location.description", c.location?.description))
            texts.append(typed("Reason for reclassification", "reclassification_reason", c.reclassificationReason))
            texts.append(typed("Recording decision rationale", "recording_decision.rationale", c.recordingDecision?.rationale))
            texts.append(typed("Narrative", "narrative", c.narrative))
            texts += thriveTexts(c.thrive)
            for (n, item) in c.property.enumerated() {
                texts.append(typed("Property \(n + 1)", "property", item.description))
            }
            for (n, exemption) in c.assessmentExemptions.enumerated() {
                texts.append(typed("No assessment: note \(n + 1)", "assessment_exemptions", exemption.note))
            }
            texts.append(typed("How the victim's decision was obtained", "victim_decision.method", c.victimDecision?.method))
            texts.append(typed("Victim's decision: evidence reference", "victim_decision.evidence_ref", c.victimDecision?.evidenceRef))
        case .vna(let v):
            for (n, exception) in v.enhancedRightsOverrides.enumerated() {
                texts.append(typed("Why enhanced rights do not apply (\(exception.category))", "enhanced_rights_overrides[\(n)]", exception.reason))
            }
            texts.append(typed("Interpreter (language)", "communication.interpreter_language", v.communication.interpreterLanguage))
            texts.append(typed("How often to contact", "contact.frequency", v.contact?.frequency))
            texts.append(typed("Safe way to make contact", "contact.safe_contact_method", v.contact?.safeContactMethod))
            texts.append(typed("Notes", "notes", v.notes))
        case .stopSearch(let s):
            texts.append(typed("Place", "location.description", s.location?.description))
            texts.append(typed("Place searched", "search_location.description", s.searchLocation?.description))
            texts.append(typed("Operation", "operation_name", s.operationName))
            texts.append(typed("Grounds", "grounds", s.grounds))
            texts.append(typed("Authorisation reference", "authorisation_ref", s.authorisationRef))
            texts.append(typed("Injury or damage details", "injury_or_damage_details", s.injuryOrDamageDetails))
            texts.append(typed("Description of the person", "person_description", s.personDescription))
            texts.append(typed("Vehicle registration", "vehicle_registration", s.vehicleRegistration))
            texts.append(typed("Why no body-worn video", "bwv_reason", s.bwvReason))
            texts.append(typed("Why no receipt", "receipt_not_given_reason", s.receiptNotGivenReason))
        case .issue(let i):
            texts.append(typed("Place", "location.description", i.location?.description))
            texts.append(typed("Narrative", "narrative", i.narrative))
            texts.append(typed("Actions taken", "actions_taken", i.actionsTaken))
            texts.append(typed("Problem-solving (SARA) plan reference", "sara_plan_ref", i.saraPlanRef))
            texts += thriveTexts(i.thrive)
        case .person(let p):
            for (n, name) in p.names.enumerated() {
                texts.append(typed(name.alias ? "Alias" : "Name", "names[\(n)]", "\(name.given) \(name.family)".trimmed))
            }
            texts.append(typed("Date of birth", "date_of_birth", p.dateOfBirth))
            texts.append(typed("Address", "address", p.address))
            texts.append(typed("Phone", "contact.phone", p.contact.phone))
            texts.append(typed("Email", "contact.email", p.contact.email))
            texts.append(typed("Physical description", "description", p.description))
        }
        return texts.compactMap { $0 }
    }
}
