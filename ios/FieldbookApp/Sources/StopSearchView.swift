import SwiftUI
import FieldbookKit

struct StopSearchView: View {
    @StateObject private var editor: RecordEditor<StopSearch>
    @EnvironmentObject private var router: Router
    @State private var references: ReferenceLists?

    // Field paths are the record's JSON names, as the core's findings give them
    // (`searchType` is published, and checked, as `type`).
    private static let shownPaths = [
        "type", "detained_at", "searched_at", "location", "legislation", "object_of_search", "grounds",
        "authorisation_ref", "outcome", "outcome_linked_to_object_of_search", "removal_of_more_than_outer_clothing",
        "injury_or_damage", "injury_or_damage_details", "person_description", "gender", "age", "age_range",
        "self_defined_ethnicity", "officer_defined_ethnicity", "vehicle_registration", "bwv_used", "bwv_reason",
        "receipt_given", "receipt_not_given_reason", "operation_name",
    ]

    init(store: FieldbookStore, id: String) {
        _editor = StateObject(wrappedValue: RecordEditor(store: store, id: id))
    }

    var body: some View {
        EditorForm(editor: editor, title: "Stop and search", shownPaths: Self.shownPaths) { ss in
            let f = editor.findings
            let powers = references?.searchPowers ?? []
            let objects = powers.first { $0.label == ss.wrappedValue.legislation }?.objects
                ?? Array(Set(powers.flatMap(\.objects))).sorted()
            Section("Encounter") {
                ChoiceRow(title: "Type", options: (references?.searchTypes ?? []).options, selection: ss.searchType, findings: f.at("type"))
                DateRow(title: "Detained", date: ss.detainedAt, findings: f.at("detained_at"))
                DateRow(title: "Searched (if different)", date: ss.searchedAt, findings: f.at("searched_at"))
                TextRow(title: "Place", text: ss.location.place, findings: f.at("location"))
                TextRow(title: "Operation", text: ss.operationName.orEmpty, findings: f.at("operation_name"))
            }
            Section("Power, object and grounds") {
                ChoiceRow(title: "Power", options: powers.map(\.label).options, selection: ss.legislation, findings: f.at("legislation"))
                ChoiceRow(title: "Object of search", options: objects.options, selection: ss.objectOfSearch, findings: f.at("object_of_search"))
                TextRow(title: "Grounds: what you saw, heard or were told about this person", text: ss.grounds.orEmpty, findings: f.at("grounds"), multiline: true)
                TextRow(title: "Authorisation reference (s60 / s47A)", text: ss.authorisationRef.orEmpty, findings: f.at("authorisation_ref"))
            }
            Section("Outcome") {
                ChoiceRow(title: "Outcome", options: (references?.searchOutcomes ?? []).options, selection: ss.outcome, findings: f.at("outcome"))
                YesNoRow(title: "Outcome linked to the object of search", value: ss.outcomeLinkedToObjectOfSearch, findings: f.at("outcome_linked_to_object_of_search"))
                YesNoRow(title: "More than outer clothing removed", value: ss.removalOfMoreThanOuterClothing, findings: f.at("removal_of_more_than_outer_clothing"))
                YesNoRow(title: "Injury or damage", value: ss.injuryOrDamage, findings: f.at("injury_or_damage"))
                if ss.wrappedValue.injuryOrDamage == true {
                    TextRow(title: "Injury or damage details", text: ss.injuryOrDamageDetails.orEmpty, findings: f.at("injury_or_damage_details"), multiline: true)
                }
            }
            Section("Person searched (no name or address needed)") {
                TextRow(title: "Description", text: ss.personDescription.orEmpty, findings: f.at("person_description"), multiline: true)
                ChoiceRow(title: "Gender", options: (references?.genders ?? []).options, selection: ss.gender, findings: f.at("gender"))
                TextRow(title: "Age in years", text: ageText(ss.age), findings: f.at("age"))
                    .keyboardType(.numberPad)
                if let age = Binding(ss.age) {
                    Toggle("Age is an estimate", isOn: age.estimated)
                }
                // Derived by the core from the age on every save; never typed.
                LabeledContent("Age range", value: ss.wrappedValue.ageRange ?? "from the age, when saved")
                FindingsText(findings: f.at("age_range"))
                ChoiceRow(
                    title: "Self-defined ethnicity",
                    options: (references?.selfDefinedEthnicities ?? []).map(\.label).options,
                    selection: ss.selfDefinedEthnicity,
                    findings: f.at("self_defined_ethnicity")
                )
                ChoiceRow(title: "Officer-defined ethnicity", options: (references?.officerDefinedEthnicities ?? []).options, selection: ss.officerDefinedEthnicity, findings: f.at("officer_defined_ethnicity"))
                TextRow(title: "Vehicle registration (if a vehicle was searched)", text: ss.vehicleRegistration.orEmpty, findings: f.at("vehicle_registration"))
            }
            Section("Body-worn video and receipt") {
                YesNoRow(title: "Body-worn video recording", value: ss.bwvUsed, findings: f.at("bwv_used"))
                if ss.wrappedValue.bwvUsed == false {
                    TextRow(title: "Why not", text: ss.bwvReason.orEmpty, findings: f.at("bwv_reason"))
                }
                LabeledContent("Receipt reference", value: ss.wrappedValue.receiptReference)
                YesNoRow(title: "Receipt given at the scene", value: ss.receiptGiven, findings: f.at("receipt_given"))
                if ss.wrappedValue.receiptGiven == false {
                    TextRow(title: "Why no receipt", text: ss.receiptNotGivenReason.orEmpty, findings: f.at("receipt_not_given_reason"))
                }
                Button("Show receipt") {
                    Task { if await editor.save() { router.open(.receipt(editor.id)) } }
                }
            }
        }
        .task { references = try? await editor.store.referenceLists() }
    }

    /// Whole years as text; anything that is not a number is ignored.
    private func ageText(_ age: Binding<AgeEvidence?>) -> Binding<String> {
        Binding(get: { age.wrappedValue.map { String($0.years) } ?? "" }, set: { text in
            if text.isEmpty {
                age.wrappedValue = nil
            } else if let years = UInt8(text) {
                age.wrappedValue = AgeEvidence(years: years, estimated: age.wrappedValue?.estimated ?? false)
            }
        })
    }
}

/// The receipt the core writes for the person searched: made on the phone, no signal needed.
struct ReceiptView: View {
    let id: String
    @EnvironmentObject private var store: FieldbookStore
    @State private var text = ""

    init(id: String) {
        self.id = id
    }

    var body: some View {
        ScrollView {
            Text(text)
                .font(.system(.body, design: .monospaced))
                .textSelection(.enabled)
                .frame(maxWidth: .infinity, alignment: .leading)
                .padding()
        }
        .navigationTitle("Receipt")
        .task {
            do {
                text = try await store.receipt(id)
            } catch let error as FieldbookError {
                text = error.userMessage
            } catch {
                text = error.localizedDescription
            }
        }
    }
}
