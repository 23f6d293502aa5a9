import SwiftUI
import FieldbookKit

struct VictimNeedsAssessmentView: View {
    @StateObject private var editor: RecordEditor<VictimNeedsAssessment>
    @State private var references: ReferenceLists?

    private static let shownPaths = [
        "crime_id", "victim_id", "assessed_at", "enhanced_rights", "enhanced_rights_overrides", "communication",
        "contact", "referral", "vps", "acknowledgement_given", "notes",
    ]

    init(store: FieldbookStore, id: String) {
        _editor = StateObject(wrappedValue: RecordEditor(store: store, id: id))
    }

    var body: some View {
        EditorForm(editor: editor, title: "Victim needs assessment", shownPaths: Self.shownPaths) { vna in
            let f = editor.findings
            let rights = references?.enhancedRights ?? []
            Section {
                FindingsText(findings: f.at("crime_id") + f.at("victim_id"))
                DateRow(title: "Assessed", date: vna.assessedAt, findings: f.at("assessed_at"))
            }
            Section("Enhanced rights") {
                FindingsText(findings: f.at("enhanced_rights"))
                ForEach(rights, id: \.code) { choice in
                    Toggle(choice.label, isOn: Binding(get: { vna.wrappedValue.enhancedRights.contains(choice.code) }, set: { on in
                        vna.wrappedValue.enhancedRights.removeAll { $0 == choice.code }
                        if on { vna.wrappedValue.enhancedRights.append(choice.code) }
                    }))
                }
                ForEach(vna.wrappedValue.enhancedRightsOverrides.indices, id: \.self) { i in
                    let path = "enhanced_rights_overrides[\(i)]"
                    ChoiceRow(
                        title: "Category left out",
                        options: rights.map { Option(value: $0.code, label: $0.label) },
                        selection: overrideField(vna, i, \.category),
                        findings: f.at("\(path).category")
                    )
                    TextRow(
                        title: "Why it does not apply",
                        text: overrideField(vna, i, \.reason).orEmpty,
                        findings: f.at("\(path).reason"),
                        multiline: true
                    )
                    Button("Remove this override", role: .destructive) {
                        vna.wrappedValue.enhancedRightsOverrides.remove(at: i)
                    }
                }
                Button("Leave out a category, with a reason") {
                    vna.wrappedValue.enhancedRightsOverrides.append(EnhancedRightsOverride(category: rights.first?.code ?? "", reason: ""))
                }
                .disabled(rights.isEmpty)
            }
            Section("Communication needs") {
                TextRow(title: "Interpreter (language)", text: vna.communication.interpreterLanguage.orEmpty, findings: f.at("communication.interpreter_language"))
                Toggle("EasyRead", isOn: vna.communication.easyRead)
                Toggle("Braille", isOn: vna.communication.braille)
                Toggle("Registered intermediary", isOn: vna.communication.intermediary)
            }
            Section("Contact") {
                Picker("Preferred channel", selection: channel(vna)) {
                    Text("Not chosen").tag(ContactChannel?.none)
                    Text("Phone call").tag(ContactChannel?.some(.phone))
                    Text("Text message").tag(ContactChannel?.some(.sms))
                    Text("Email").tag(ContactChannel?.some(.email))
                    Text("Letter").tag(ContactChannel?.some(.letter))
                    Text("In person").tag(ContactChannel?.some(.inPerson))
                }
                FindingsText(findings: f.exactly("contact"))
                if let contact = Binding(vna.contact) {
                    TextRow(title: "How often", text: contact.frequency.orEmpty, findings: f.at("contact.frequency"))
                    TextRow(title: "Safe way to make contact", text: contact.safeContactMethod.orEmpty, findings: f.at("contact.safe_contact_method"), multiline: true)
                    Toggle("Automatic updates (text, email) allowed", isOn: contact.automaticMessages)
                    FindingsText(findings: f.at("contact.automatic_messages"))
                }
            }
            Section("Referral to victim support") {
                Picker("Decision", selection: referralDecision(vna)) {
                    Text("Not made").tag(ReferralDecision?.none)
                    Text("Referred").tag(ReferralDecision?.some(.referred))
                    Text("Victim opted out").tag(ReferralDecision?.some(.optedOut))
                    Text("Not referred: no explicit consent").tag(ReferralDecision?.some(.noConsent))
                }
                FindingsText(findings: f.exactly("referral"))
                if let referral = Binding(vna.referral) {
                    YesNoRow(title: "Explicit consent given", value: referral.explicitConsent, findings: f.at("referral.explicit_consent"))
                    DateRow(title: "Referred", date: referral.referredAt, findings: f.at("referral.referred_at"))
                }
            }
            Section("Victim Personal Statement and acknowledgement") {
                Picker("Victim Personal Statement", selection: vna.vps) {
                    Text("Not recorded").tag(VpsStatus?.none)
                    Text("Offered").tag(VpsStatus?.some(.offered))
                    Text("Declined").tag(VpsStatus?.some(.declined))
                    Text("Made").tag(VpsStatus?.some(.made))
                }
                FindingsText(findings: f.at("vps"))
                Toggle("Written acknowledgement given", isOn: vna.acknowledgementGiven)
                FindingsText(findings: f.at("acknowledgement_given"))
                TextRow(title: "Notes", text: vna.notes, findings: f.at("notes"), multiline: true)
            }
        }
        .task { references = try? await editor.store.referenceLists() }
    }

    /// A field of one enhanced-rights override, by index; empty once the override is removed.
    private func overrideField(
        _ vna: Binding<VictimNeedsAssessment>,
        _ index: Int,
        _ field: WritableKeyPath<EnhancedRightsOverride, String>
    ) -> Binding<String?> {
        Binding(get: {
            vna.wrappedValue.enhancedRightsOverrides.indices.contains(index) ? vna.wrappedValue.enhancedRightsOverrides[index][keyPath: field] : nil
        }, set: { value in
            guard vna.wrappedValue.enhancedRightsOverrides.indices.contains(index) else { return }
            vna.wrappedValue.enhancedRightsOverrides[index][keyPath: field] = value ?? ""
        })
    }

    private func channel(_ vna: Binding<VictimNeedsAssessment>) -> Binding<ContactChannel?> {
        Binding(get: { vna.wrappedValue.contact?.channel }, set: { channel in
            guard let channel else { return }
            var contact = vna.wrappedValue.contact
                ?? ContactPreferences(channel: channel, frequency: nil, safeContactMethod: nil, automaticMessages: false)
            contact.channel = channel
            vna.wrappedValue.contact = contact
        })
    }

    private func referralDecision(_ vna: Binding<VictimNeedsAssessment>) -> Binding<ReferralDecision?> {
        Binding(get: { vna.wrappedValue.referral?.decision }, set: { decision in
            guard let decision else { return }
            let old = vna.wrappedValue.referral
            vna.wrappedValue.referral = Referral(
                decision: decision,
                explicitConsent: old?.explicitConsent,
                decidedAt: Date(),
                referredAt: old?.referredAt
            )
        })
    }
}
