import SwiftUI
import FieldbookKit

struct NeighbourhoodIssueView: View {
    @StateObject private var editor: RecordEditor<NeighbourhoodIssue>
    @EnvironmentObject private var router: Router
    @State private var references: ReferenceLists?

    private static let shownPaths = [
        "reported_at", "location", "asb_type", "qualifier", "reporter_id", "flags", "thrive", "narrative",
        "actions_taken", "sara_plan_ref",
    ]

    init(store: FieldbookStore, id: String) {
        _editor = StateObject(wrappedValue: RecordEditor(store: store, id: id))
    }

    var body: some View {
        EditorForm(editor: editor, title: "Neighbourhood issue", shownPaths: Self.shownPaths) { issue in
            let f = editor.findings
            Section("Issue") {
                DateRow(title: "Reported", date: issue.reportedAt, findings: f.at("reported_at"))
                TextRow(title: "Place", text: issue.location.place, findings: f.at("location"))
                ChoiceRow(
                    title: "Anti-social behaviour type",
                    options: (references?.asbTypes ?? []).map { Option(value: $0.code, label: $0.label) },
                    selection: issue.asbType,
                    findings: f.at("asb_type")
                )
                ChoiceRow(title: "Qualifier", options: (references?.asbQualifiers ?? []).options, selection: issue.qualifier, findings: f.at("qualifier"))
            }
            Section("Reporter") {
                Toggle("Reporter asked to stay anonymous", isOn: issue.anonymousReporter)
                FindingsText(findings: f.at("reporter_id"))
                if let reporter = issue.wrappedValue.reporterId {
                    Button("Reporter's details") { router.open(.record(.person, reporter)) }
                } else if !issue.wrappedValue.anonymousReporter {
                    Button("Add reporter") { addReporter() }
                }
                Toggle("Has reported before", isOn: issue.flags.repeat)
                Toggle("Vulnerable", isOn: issue.flags.vulnerable)
            }
            ThriveSection(thrive: issue.thrive.unwrap(or: Thrive(threat: "", harm: "", risk: "", investigation: "", vulnerability: "", engagement: "", adviceGiven: "")), findings: f)
            Section("What happened and what was done") {
                TextRow(title: "Narrative", text: issue.narrative, findings: f.at("narrative"), multiline: true)
                TextRow(title: "Actions taken", text: issue.actionsTaken, findings: f.at("actions_taken"), multiline: true)
                TextRow(title: "Problem-solving (SARA) plan reference", text: issue.saraPlanRef.orEmpty, findings: f.at("sara_plan_ref"))
            }
        }
        .task { references = try? await editor.store.referenceLists() }
    }

    /// A new person record as the reporter, opened to take their details.
    private func addReporter() {
        Task {
            await editor.perform {
                let person = try await editor.store.create(.person)
                editor.draft?.reporterId = person.meta.id
                editor.draft?.anonymousReporter = false
                try await editor.persist()
                router.open(.record(.person, person.meta.id))
            }
        }
    }
}
