import SwiftUI
import FieldbookKit

/// A record kind an editing screen works on. The generated records have settable fields, so the
/// screens bind straight to them.
protocol EditableRecord: Equatable {
    init?(record: Record)
    var record: Record { get }
}

extension CrimeReport: EditableRecord {
    init?(record: Record) {
        guard case .crime(let value) = record else { return nil }
        self = value
    }
    var record: Record { .crime(value: self) }
}

extension VictimNeedsAssessment: EditableRecord {
    init?(record: Record) {
        guard case .vna(let value) = record else { return nil }
        self = value
    }
    var record: Record { .vna(value: self) }
}

extension StopSearch: EditableRecord {
    init?(record: Record) {
        guard case .stopSearch(let value) = record else { return nil }
        self = value
    }
    var record: Record { .stopSearch(value: self) }
}

extension NeighbourhoodIssue: EditableRecord {
    init?(record: Record) {
        guard case .issue(let value) = record else { return nil }
        self = value
    }
    var record: Record { .issue(value: self) }
}

extension Person: EditableRecord {
    init?(record: Record) {
        guard case .person(let value) = record else { return nil }
        self = value
    }
    var record: Record { .person(value: self) }
}

/// Load, edit, save and submit one record. The record is read with its version and saved with
/// `saveVersioned`, so changes a background sync merges in while the officer types are kept
/// beside theirs. After every save the screen shows `check`'s findings.
@MainActor
final class RecordEditor<Value: EditableRecord>: ObservableObject {
    @Published var draft: Value?
    @Published private(set) var findings: [Finding] = []
    @Published private(set) var message: String?
    @Published private(set) var busy = false
    let id: String
    let store: FieldbookStore
    private var saved: Value?
    private var version: String?

    init(store: FieldbookStore, id: String) {
        self.store = store
        self.id = id
    }

    var dirty: Bool { draft != saved }

    /// On first appearance, and on coming back from a linked record, unless there are edits.
    func load() async {
        guard draft == nil || !dirty else { return }
        await perform { try await self.reload() }
    }

    @discardableResult
    func save() async -> Bool {
        await perform { try await self.persist() }
    }

    @discardableResult
    func submit() async -> Bool {
        await perform {
            try await self.persist()
            _ = try await self.store.submit(self.id)
            try await self.reload()
        }
    }

    /// Runs `body` with the busy flag, showing a core error next to its fields or as a message.
    @discardableResult
    func perform(_ body: () async throws -> Void) async -> Bool {
        busy = true
        message = nil
        defer { busy = false }
        do {
            try await body()
            return true
        } catch let error as FieldbookError {
            if case .Stale = error { try? await reload() }
            if case .Validation(let findings) = error { self.findings = findings }
            message = error.userMessage
            return false
        } catch {
            message = error.localizedDescription
            return false
        }
    }

    /// Saves the draft if it changed, then reads back what is stored.
    func persist() async throws {
        guard let draft, let version, dirty else { return }
        try await store.saveVersioned(draft.record, version: version)
        try await reload()
    }

    func reload() async throws {
        let versioned = try await store.getVersioned(id)
        let findings = try await store.check(id)
        let loaded = Value(record: versioned.record)
        saved = loaded
        draft = loaded
        version = versioned.version
        self.findings = findings
    }
}

/// The frame of every editing screen: findings no field shows, the fields, Save and Submit.
/// Leaving with unsaved changes saves them.
struct EditorForm<Value: EditableRecord, Content: View>: View {
    @ObservedObject var editor: RecordEditor<Value>
    let title: String
    let shownPaths: [String]
    let canSubmit: Bool
    let content: (Binding<Value>) -> Content
    @Environment(\.dismiss) private var dismiss

    init(
        editor: RecordEditor<Value>,
        title: String,
        shownPaths: [String],
        canSubmit: Bool = true,
        @ViewBuilder content: @escaping (Binding<Value>) -> Content
    ) {
        self.editor = editor
        self.title = title
        self.shownPaths = shownPaths
        self.canSubmit = canSubmit
        self.content = content
    }

    var body: some View {
        Form {
            if let message = editor.message {
                Section { Text(message) }
            }
            let unplaced = editor.findings.outside(shownPaths)
            if !unplaced.isEmpty {
                Section("To put right") { FindingsText(findings: unplaced, showField: true) }
            }
            if let draft = Binding($editor.draft) {
                content(draft)
            }
        }
        .disabled(editor.busy)
        .overlay { if editor.busy { ProgressView() } }
        .navigationTitle(title)
        .navigationBarTitleDisplayMode(.inline)
        .toolbar {
            ToolbarItem(placement: .confirmationAction) {
                Button("Save") { Task { await editor.save() } }.disabled(!editor.dirty)
            }
            if canSubmit {
                ToolbarItem(placement: .bottomBar) {
                    Button("Submit for review") {
                        Task { if await editor.submit() { dismiss() } }
                    }
                }
            }
        }
        .task { await editor.load() }
        .onDisappear {
            if editor.dirty { Task { await editor.save() } }
        }
    }
}
