import SwiftUI
import FieldbookKit

/// A person's details: the only record that holds them. Opening this screen is a read of
/// personal data, which the core writes to the access log.
struct PersonView: View {
    @StateObject private var editor: RecordEditor<Person>

    // Other names (aliases) and findings about the list as a whole go to the summary at the top.
    private static let shownPaths = ["names[0]", "date_of_birth", "address", "contact", "description"]

    init(store: FieldbookStore, id: String) {
        _editor = StateObject(wrappedValue: RecordEditor(store: store, id: id))
    }

    var body: some View {
        EditorForm(editor: editor, title: "Person", shownPaths: Self.shownPaths, canSubmit: false) { person in
            let f = editor.findings
            let name = primaryName(person)
            Section("Name") {
                FindingsText(findings: f.exactly("names[0]"))
                TextRow(title: "Given name(s)", text: name.given, findings: f.at("names[0].given"))
                TextRow(title: "Family name", text: name.family, findings: f.at("names[0].family"))
                TextRow(title: "Date of birth (YYYY-MM-DD)", text: person.dateOfBirth.orEmpty, findings: f.at("date_of_birth"))
            }
            Section("Contact") {
                TextRow(title: "Address", text: person.address.orEmpty, findings: f.at("address"), multiline: true)
                TextRow(title: "Phone", text: person.contact.phone.orEmpty, findings: f.at("contact.phone"))
                    .keyboardType(.phonePad)
                TextRow(title: "Email", text: person.contact.email.orEmpty, findings: f.at("contact.email"))
                    .keyboardType(.emailAddress)
                    .textInputAutocapitalization(.never)
            }
            Section("Description") {
                // Spelled out: `description` could resolve to a member of Binding itself.
                TextRow(title: "Physical description", text: person[dynamicMember: \Person.description].orEmpty, findings: f.at("description"), multiline: true)
            }
        }
    }

    /// The first name on the record, created on the first keystroke when there is none.
    private func primaryName(_ person: Binding<Person>) -> Binding<PersonName> {
        Binding(get: { person.wrappedValue.names.first ?? PersonName(given: "", family: "", alias: false) }, set: { name in
            if person.wrappedValue.names.isEmpty {
                person.wrappedValue.names = [name]
            } else {
                person.wrappedValue.names[0] = name
            }
        })
    }
}
