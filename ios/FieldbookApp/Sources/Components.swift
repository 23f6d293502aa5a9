import SwiftUI
import FieldbookKit

// Form rows that show the core's findings for their field under them. The screens never decide
// what is valid: they show what `check`, `save` and `submit` report.

struct FindingsText: View {
    let findings: [Finding]
    var showField = false

    var body: some View {
        ForEach(findings, id: \.self) { finding in
            Text(showField ? "\(finding.field): \(finding.message)" : finding.message)
                .font(.footnote)
                .foregroundStyle(finding.severity == .error ? Color.red : Color.orange)
        }
    }
}

struct TextRow: View {
    let title: String
    @Binding var text: String
    let findings: [Finding]
    var multiline = false

    var body: some View {
        VStack(alignment: .leading, spacing: 4) {
            if multiline {
                TextField(title, text: $text, axis: .vertical).lineLimit(3...12)
            } else {
                TextField(title, text: $text)
            }
            FindingsText(findings: findings)
        }
    }
}

/// A time that may not be recorded yet: "Now" for the common case at the scene.
struct DateRow: View {
    let title: String
    @Binding var date: Date?
    let findings: [Finding]

    var body: some View {
        VStack(alignment: .leading, spacing: 4) {
            if date != nil {
                DatePicker(title, selection: Binding(get: { date ?? Date() }, set: { date = $0 }))
            } else {
                LabeledContent(title, value: "Not recorded")
            }
            Button("Now") { date = Date() }.buttonStyle(.borderless)
            FindingsText(findings: findings)
        }
    }
}

/// A yes/no question that may still be unanswered (the record holds `Bool?`).
struct YesNoRow: View {
    let title: String
    @Binding var value: Bool?
    let findings: [Finding]

    var body: some View {
        VStack(alignment: .leading, spacing: 4) {
            Picker(title, selection: $value) {
                Text("Not answered").tag(Bool?.none)
                Text("Yes").tag(Bool?.some(true))
                Text("No").tag(Bool?.some(false))
            }
            FindingsText(findings: findings)
        }
    }
}

struct Option: Hashable {
    let value: String
    let label: String
}

extension Array where Element == String {
    /// Reference-data labels stored as they are shown.
    var options: [Option] { map { Option(value: $0, label: $0) } }
}

/// A choice from reference data; the stored value may differ from the label shown.
struct ChoiceRow: View {
    let title: String
    let options: [Option]
    @Binding var selection: String?
    let findings: [Finding]

    var body: some View {
        VStack(alignment: .leading, spacing: 4) {
            Picker(title, selection: $selection) {
                Text("Not chosen").tag(String?.none)
                ForEach(options, id: \.self) { option in
                    Text(option.label).tag(String?.some(option.value))
                }
            }
            FindingsText(findings: findings)
        }
    }
}

struct ThriveSection: View {
    @Binding var thrive: Thrive
    let findings: [Finding]

    var body: some View {
        Section("THRIVE risk assessment") {
            FindingsText(findings: findings.exactly("thrive"))
            TextRow(title: "Threat", text: $thrive.threat, findings: findings.at("thrive.threat"), multiline: true)
            TextRow(title: "Harm", text: $thrive.harm, findings: findings.at("thrive.harm"), multiline: true)
            TextRow(title: "Risk", text: $thrive.risk, findings: findings.at("thrive.risk"), multiline: true)
            TextRow(title: "Investigation", text: $thrive.investigation, findings: findings.at("thrive.investigation"), multiline: true)
            TextRow(title: "Vulnerability", text: $thrive.vulnerability, findings: findings.at("thrive.vulnerability"), multiline: true)
            TextRow(title: "Engagement", text: $thrive.engagement, findings: findings.at("thrive.engagement"), multiline: true)
            TextRow(title: "Advice given", text: $thrive.adviceGiven, findings: findings.at("thrive.advice_given"), multiline: true)
        }
    }
}

struct StatusChip: View {
    let status: Status

    var body: some View {
        Text(status.label)
            .font(.caption)
            .padding(.horizontal, 8)
            .padding(.vertical, 3)
            .background(color.opacity(0.2), in: Capsule())
    }

    private var color: Color {
        switch status {
        case .draft: return .gray
        case .submitted: return .blue
        case .returned: return .red
        case .approved: return .green
        }
    }
}

extension Binding {
    /// An optional part of a record as a non-optional one: editing it creates it from `empty`.
    func unwrap<T>(or empty: T) -> Binding<T> where Value == T? {
        Binding<T>(get: { self.wrappedValue ?? empty }, set: { self.wrappedValue = $0 })
    }
}

extension Binding where Value == String? {
    /// Empty text is stored as no value.
    var orEmpty: Binding<String> {
        Binding<String>(get: { self.wrappedValue ?? "" }, set: { self.wrappedValue = $0.isEmpty ? nil : $0 })
    }
}

extension Binding where Value == Location? {
    /// The free-text place; GPS fields, if any, are kept.
    var place: Binding<String> {
        Binding<String>(
            get: { self.wrappedValue?.description ?? "" },
            set: { text in
                var location = self.wrappedValue ?? Location(lat: nil, lon: nil, accuracyM: nil, description: nil, street: nil, ward: nil)
                location.description = text.isEmpty ? nil : text
                self.wrappedValue = location
            }
        )
    }
}

extension RecordKind {
    var label: String {
        switch self {
        case .crimeReport: return "Crime report"
        case .victimNeedsAssessment: return "Victim needs assessment"
        case .stopSearch: return "Stop and search"
        case .neighbourhoodIssue: return "Neighbourhood issue"
        case .person: return "Person"
        }
    }
}

extension Status {
    var label: String {
        switch self {
        case .draft: return "Draft"
        case .submitted: return "Submitted"
        case .returned: return "Returned"
        case .approved: return "Approved"
        }
    }
}

extension TimeInterval {
    var waitingText: String {
        let minutes = Int(self / 60)
        if minutes >= 24 * 60 { return "\(minutes / (24 * 60)) d \(minutes / 60 % 24) h" }
        if minutes >= 60 { return "\(minutes / 60) h \(minutes % 60) min" }
        return "\(minutes) min"
    }
}
