import SwiftUI
import UIKit
import FieldbookKit

struct RootView: View {
    @EnvironmentObject private var store: FieldbookStore
    @Environment(\.scenePhase) private var scenePhase

    var body: some View {
        Group {
            switch store.phase {
            case .opening:
                ProgressView()
            case .needsSetup:
                SetupView(hasStore: false)
            case .ready(let user, let enrolled):
                if enrolled {
                    MainTabs(user: user)
                } else {
                    SetupView(hasStore: true)
                }
            case .unreadable(let error):
                UnreadableStoreView(error: error)
            }
        }
        // Victims' details and grounds on screen: keep them out of the app switcher's snapshot.
        .overlay {
            if scenePhase != .active { Color(uiColor: .systemBackground).ignoresSafeArea() }
        }
        .onChange(of: scenePhase) { phase in
            // The Keychain stays closed until the first unlock after a restart.
            if phase == .active { Task { await store.reopenIfUnreadable() } }
        }
    }
}

struct MainTabs: View {
    let user: UserInfo

    var body: some View {
        TabView {
            RoutedStack { RecordsView() }
                .tabItem { Label("My records", systemImage: "list.bullet") }
            RoutedStack { ReturnedView() }
                .tabItem { Label("Returned", systemImage: "arrow.uturn.backward") }
            // Shown to supervisors; the core still decides every approval.
            if user.role == .supervisor {
                RoutedStack { ReviewQueueView() }
                    .tabItem { Label("Review", systemImage: "checkmark.seal") }
            }
        }
    }
}

enum Route: Hashable {
    case record(RecordKind, String)
    case receipt(String)
    /// What the server refused (reached from the records list while any is kept).
    case quarantine
    /// One kept refused state, to read, copy from and dismiss.
    case quarantined(QuarantineItem)
}

/// The navigation path of one tab, so screens can open a record they have just created.
@MainActor
final class Router: ObservableObject {
    @Published var path = NavigationPath()

    func open(_ route: Route) {
        path.append(route)
    }
}

struct RoutedStack<Root: View>: View {
    @StateObject private var router = Router()
    @EnvironmentObject private var store: FieldbookStore
    private let root: Root

    init(@ViewBuilder root: () -> Root) {
        self.root = root()
    }

    var body: some View {
        NavigationStack(path: $router.path) {
            root.navigationDestination(for: Route.self) { route in
                destination(route)
            }
        }
        .environmentObject(router)
    }

    @ViewBuilder
    private func destination(_ route: Route) -> some View {
        switch route {
        case .record(let kind, let id):
            switch kind {
            case .crimeReport: CrimeReportView(store: store, id: id)
            case .victimNeedsAssessment: VictimNeedsAssessmentView(store: store, id: id)
            case .stopSearch: StopSearchView(store: store, id: id)
            case .neighbourhoodIssue: NeighbourhoodIssueView(store: store, id: id)
            case .person: PersonView(store: store, id: id)
            }
        case .receipt(let id):
            ReceiptView(id: id)
        case .quarantine:
            QuarantineView()
        case .quarantined(let item):
            QuarantinedRecordView(item: item)
        }
    }
}

/// First run (create the store, then enrol) or enrolment again for an existing store.
struct SetupView: View {
    let hasStore: Bool
    @EnvironmentObject private var store: FieldbookStore
    @State private var officer = ""
    @State private var role: Role = .officer
    @State private var server = "https://"
    @State private var code = ""
    @State private var busy = false
    @State private var error: FieldbookError?

    init(hasStore: Bool) {
        self.hasStore = hasStore
    }

    var body: some View {
        NavigationStack {
            Form {
                Section {
                    Text("Use the one-time enrolment code issued to you. Records stay on this phone, encrypted, until they reach the force's server.")
                        .font(.footnote)
                }
                if !hasStore {
                    Section("You") {
                        TextField("Collar number", text: $officer)
                            .textInputAutocapitalization(.characters)
                        Picker("Role", selection: $role) {
                            Text("Police officer").tag(Role.officer)
                            Text("PCSO").tag(Role.pcso)
                            Text("Supervisor").tag(Role.supervisor)
                        }
                    }
                }
                Section("Server") {
                    TextField("Server address", text: $server)
                        .keyboardType(.URL)
                        .textInputAutocapitalization(.never)
                    TextField("Enrolment code", text: $code)
                        .textInputAutocapitalization(.never)
                }
                if let error {
                    Section {
                        Text(error.userMessage).foregroundStyle(.red)
                        FindingsText(findings: error.findings, showField: true)
                    }
                }
                Button(hasStore ? "Enrol" : "Set up") { Task { await submit() } }
                    .disabled(busy)
            }
            .navigationTitle(hasStore ? "Enrol this phone" : "Set up this phone")
            .overlay { if busy { ProgressView() } }
        }
    }

    private func submit() async {
        busy = true
        defer { busy = false }
        error = nil
        let label = UIDevice.current.name
        do {
            if hasStore {
                try await store.enrol(server: server.trimmed, code: code, label: label)
            } else {
                try await store.setUp(officer: officer.trimmed, role: role, server: server.trimmed, code: code, label: label)
            }
        } catch let failure as FieldbookError {
            error = failure
        } catch {
            self.error = .Other(code: "setup", detail: error.localizedDescription)
        }
    }
}

/// The store is there but cannot be opened. Nothing is deleted (docs/adr/0003): when the key is
/// gone the officer may keep the file aside and start a fresh store that pulls their synced
/// records back from the server; work that never synced stays unreadable.
struct UnreadableStoreView: View {
    let error: FieldbookError
    @EnvironmentObject private var store: FieldbookStore
    @State private var confirming = false

    init(error: FieldbookError) {
        self.error = error
    }

    private var code: String? {
        if case .Storage(let code, _) = error { return code }
        return nil
    }

    var body: some View {
        VStack(alignment: .leading, spacing: 16) {
            Text("Fieldbook cannot open this phone's records").font(.title2)
            Text(error.userMessage)
            switch code {
            case "store-too-new":
                Text("This store was written by a newer Fieldbook. Update the app; do not delete it.")
            case "key-rejected", "key-unavailable", "bad-key", "store-corrupt":
                Button("Keep the old file and start again") { confirming = true }
                    .buttonStyle(.borderedProminent)
            default:
                Text("Contact IT support with the code \(code ?? "unknown"). Do not delete the app.")
            }
            Spacer()
        }
        .padding()
        .confirmationDialog("Start again?", isPresented: $confirming, titleVisibility: .visible) {
            Button("Start again", role: .destructive) {
                Task { await store.keepUnreadableStoreAndStartAgain() }
            }
        } message: {
            Text("Records that reached the server come back after you enrol. Anything on this phone that had not synced cannot be read again. The old file is kept, not deleted.")
        }
    }
}

extension String {
    var trimmed: String { trimmingCharacters(in: .whitespacesAndNewlines) }
}
