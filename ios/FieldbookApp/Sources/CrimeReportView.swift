import SwiftUI
import FieldbookKit

struct CrimeReportView: View {
    @StateObject private var editor: RecordEditor<CrimeReport>
    @EnvironmentObject private var router: Router
    @State private var references: ReferenceLists?
    /// Victim person id to the id of their needs assessment for this crime.
    @State private var assessments: [String: String] = [:]

    private static let shownPaths = [
        "reported_at", "occurred_from", "occurred_to", "location", "classification", "recording_decision",
        "narrative", "flags", "thrive", "victims", "assessment_exemptions", "outcome", "victim_decision",
    ]

    init(store: FieldbookStore, id: String) {
        _editor = StateObject(wrappedValue: RecordEditor(store: store, id: id))
    }

    var body: some View {
        EditorForm(editor: editor, title: "Crime report", shownPaths: Self.shownPaths) { crime in
            let f = editor.findings
            Section("Report") {
                DateRow(title: "Report received", date: crime.reportedAt, findings: f.at("reported_at"))
                DateRow(title: "Occurred from", date: crime.occurredFrom, findings: f.at("occurred_from"))
                DateRow(title: "Occurred to", date: crime.occurredTo, findings: f.at("occurred_to"))
                TextRow(title: "Place", text: crime.location.place, findings: f.at("location"))
            }
            Section("Classification and recording decision") {
                ChoiceRow(
                    title: "Offence",
                    options: (references?.offences ?? []).map { Option(value: $0.code, label: "\($0.code) \($0.label)") },
                    selection: Binding(get: { crime.wrappedValue.classification?.offence.code }, set: { code in
                        if let code { setShorthand("classification", code) }
                    }),
                    findings: f.at("classification")
                )
                if let category = crime.wrappedValue.classification?.category {
                    LabeledContent("police.uk category", value: category)
                }
                Picker("Recording decision", selection: decision(crime)) {
                    Text("Not made").tag(RecordingDecisionKind?.none)
                    Text("Crimed").tag(RecordingDecisionKind?.some(.crimed))
                    Text("Not crimed").tag(RecordingDecisionKind?.some(.notCrimed))
                }
                FindingsText(findings: f.at("recording_decision").filter { $0.field != "recording_decision.rationale" })
                if let recording = Binding(crime.recordingDecision) {
                    TextRow(title: "Rationale", text: recording.rationale.orEmpty, findings: f.at("recording_decision.rationale"), multiline: true)
                }
            }
            Section("Account") {
                TextRow(title: "Narrative", text: crime.narrative, findings: f.at("narrative"), multiline: true)
            }
            Section("Flags") {
                Toggle("Domestic abuse", isOn: crime.flags.domesticAbuse)
                Toggle("Hate crime", isOn: crime.flags.hateCrime)
                Toggle("Repeat victim", isOn: crime.flags.repeatVictim)
                Toggle("Vulnerable victim", isOn: crime.flags.vulnerableVictim)
            }
            ThriveSection(thrive: crime.thrive.unwrap(or: Thrive(threat: "", harm: "", risk: "", investigation: "", vulnerability: "", engagement: "", adviceGiven: "")), findings: f)
            Section("Victims") {
                FindingsText(findings: f.exactly("victims"))
                ForEach(Array(crime.wrappedValue.victims.enumerated()), id: \.element) { index, victimId in
                    victimRow(index: index, victimId: victimId, crime: crime, findings: f)
                }
                Button("Add victim") { addVictim() }
            }
            Section("Outcome") {
                ChoiceRow(
                    title: "Outcome",
                    options: (references?.crimeOutcomes ?? []).map { Option(value: $0.code, label: "\($0.code) \($0.label)") },
                    selection: Binding(get: { crime.wrappedValue.outcome?.code }, set: { code in
                        if let code { setShorthand("outcome", code) }
                    }),
                    findings: f.at("outcome")
                )
            }
            Section("Victim's decision not to support action") {
                FindingsText(findings: f.exactly("victim_decision"))
                ChoiceRow(
                    title: "Victim",
                    options: crime.wrappedValue.victims.enumerated().map { Option(value: $0.element, label: "Victim \($0.offset + 1)") },
                    selection: victimDecisionVictim(crime),
                    findings: f.at("victim_decision.victim_id")
                )
                if let decision = Binding(crime.victimDecision) {
                    DateRow(title: "Recorded", date: decision.recordedAt.optional, findings: f.at("victim_decision.recorded_at"))
                    TextRow(title: "How it was obtained", text: decision.method, findings: f.at("victim_decision.method"))
                    TextRow(title: "Evidence reference", text: decision.evidenceRef, findings: f.at("victim_decision.evidence_ref"))
                }
            }
        }
        .task {
            references = try? await editor.store.referenceLists()
            await loadAssessments()
        }
    }

    @ViewBuilder
    private func victimRow(index: Int, victimId: String, crime: Binding<CrimeReport>, findings: [Finding]) -> some View {
        let exemptionIndex = crime.wrappedValue.assessmentExemptions.firstIndex { $0.victimId == victimId }
        let exemptionPath = "assessment_exemptions[\(exemptionIndex ?? -1)]"
        VStack(alignment: .leading, spacing: 6) {
            Text("Victim \(index + 1)").font(.headline)
            FindingsText(findings: findings.at("victims[\(index)]"))
            HStack {
                Button("Details") { router.open(.record(.person, victimId)) }
                Spacer()
                Button(assessments[victimId] == nil ? "Start needs assessment" : "Needs assessment") { openAssessment(victimId) }
                Spacer()
                Button("Remove", role: .destructive) {
                    crime.wrappedValue.victims.removeAll { $0 == victimId }
                    crime.wrappedValue.assessmentExemptions.removeAll { $0.victimId == victimId }
                }
            }
            .buttonStyle(.borderless)
            Picker("No needs assessment because", selection: exemption(victimId, crime)) {
                Text("Not applicable").tag(NoAssessmentReason?.none)
                Text("Victim declined").tag(NoAssessmentReason?.some(.declined))
                Text("Could not be contacted").tag(NoAssessmentReason?.some(.uncontactable))
                Text("Contact would put them at risk").tag(NoAssessmentReason?.some(.safety))
            }
            if exemptionIndex != nil {
                FindingsText(findings: findings.at(exemptionPath).filter { $0.field != "\(exemptionPath).note" })
                TextRow(
                    title: "What was tried, or the risk contact would bring",
                    text: exemptionNote(victimId, crime),
                    findings: findings.at("\(exemptionPath).note"),
                    multiline: true
                )
            }
        }
    }

    // MARK: Bindings onto optional or keyed parts of the record

    private func decision(_ crime: Binding<CrimeReport>) -> Binding<RecordingDecisionKind?> {
        Binding(get: { crime.wrappedValue.recordingDecision?.decision }, set: { kind in
            let rationale = crime.wrappedValue.recordingDecision?.rationale
            crime.wrappedValue.recordingDecision = kind.map {
                RecordingDecision(decision: $0, decidedAt: Date(), rationale: rationale)
            }
        })
    }

    private func victimDecisionVictim(_ crime: Binding<CrimeReport>) -> Binding<String?> {
        Binding(get: { crime.wrappedValue.victimDecision?.victimId }, set: { victimId in
            guard let victimId else { return }
            var decision = crime.wrappedValue.victimDecision
                ?? VictimDecision(victimId: victimId, recordedAt: Date(), method: "", evidenceRef: "")
            decision.victimId = victimId
            crime.wrappedValue.victimDecision = decision
        })
    }

    private func exemption(_ victimId: String, _ crime: Binding<CrimeReport>) -> Binding<NoAssessmentReason?> {
        Binding(get: {
            crime.wrappedValue.assessmentExemptions.first { $0.victimId == victimId }?.reason
        }, set: { reason in
            let index = crime.wrappedValue.assessmentExemptions.firstIndex { $0.victimId == victimId }
            switch (index, reason) {
            case (let i?, let new?): crime.wrappedValue.assessmentExemptions[i].reason = new
            case (let i?, nil): crime.wrappedValue.assessmentExemptions.remove(at: i)
            case (nil, let new?):
                crime.wrappedValue.assessmentExemptions.append(AssessmentExemption(victimId: victimId, reason: new, note: nil))
            case (nil, nil): break
            }
        })
    }

    private func exemptionNote(_ victimId: String, _ crime: Binding<CrimeReport>) -> Binding<String> {
        Binding(get: {
            crime.wrappedValue.assessmentExemptions.first { $0.victimId == victimId }?.note ?? ""
        }, set: { note in
            guard let i = crime.wrappedValue.assessmentExemptions.firstIndex(where: { $0.victimId == victimId }) else { return }
            crime.wrappedValue.assessmentExemptions[i].note = note.isEmpty ? nil : note
        })
    }

    // MARK: Actions on linked records

    /// `classification=8N` / `outcome=16`: the core fills in labels and the police.uk category.
    private func setShorthand(_ field: String, _ code: String) {
        Task {
            await editor.perform {
                try await editor.persist()
                _ = try await editor.store.setFields(editor.id, ["\(field)=\(code)"])
                try await editor.reload()
            }
        }
    }

    /// A new person record, listed as a victim, opened to take their details.
    private func addVictim() {
        Task {
            await editor.perform {
                let person = try await editor.store.create(.person)
                editor.draft?.victims.append(person.meta.id)
                try await editor.persist()
                router.open(.record(.person, person.meta.id))
            }
        }
    }

    /// Opens the victim's needs assessment for this crime, creating it linked to both.
    private func openAssessment(_ victimId: String) {
        Task {
            await editor.perform {
                try await editor.persist()
                if let existing = assessments[victimId] {
                    router.open(.record(.victimNeedsAssessment, existing))
                    return
                }
                guard case .vna(var vna) = try await editor.store.create(.victimNeedsAssessment) else { return }
                vna.crimeId = editor.id
                vna.victimId = victimId
                try await editor.store.save(.vna(value: vna))
                assessments[victimId] = vna.meta.id
                router.open(.record(.victimNeedsAssessment, vna.meta.id))
            }
        }
    }

    private func loadAssessments() async {
        let filter = RecordFilter(kind: .victimNeedsAssessment, status: nil, author: nil, limit: nil)
        guard let summaries = try? await editor.store.list(filter) else { return }
        var found: [String: String] = [:]
        for summary in summaries {
            if case .vna(let vna)? = try? await editor.store.get(summary.id),
               vna.crimeId == editor.id,
               let victimId = vna.victimId {
                found[victimId] = vna.meta.id
            }
        }
        assessments = found
    }
}

extension Binding where Value == Date {
    /// For a DateRow on a time that is always set.
    var optional: Binding<Date?> {
        Binding<Date?>(get: { self.wrappedValue }, set: { if let date = $0 { self.wrappedValue = date } })
    }
}
