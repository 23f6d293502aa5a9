import SwiftUI
import FieldbookKit

/// The officer's own records with their status, and where the phone stands with the server.
struct RecordsView: View {
    @EnvironmentObject private var store: FieldbookStore
    @EnvironmentObject private var router: Router
    @State private var records: [RecordSummary] = []
    @State private var message: String?

    var body: some View {
        List {
            Section { SyncSummary() }
            // Refused changes kept on the phone: shown until the officer has dismissed every one.
            if let count = store.syncStatus?.quarantined, count > 0 {
                Section {
                    NavigationLink(value: Route.quarantine) {
                        VStack(alignment: .leading, spacing: 2) {
                            Label("Refused by the server", systemImage: "exclamationmark.octagon.fill")
                                .foregroundStyle(.red)
                            Text("What you typed is kept here until you have copied what you need and dismissed it.")
                                .font(.footnote)
                                .foregroundStyle(.secondary)
                        }
                    }
                    .badge(Int(count))
                }
            }
            if let message {
                Section { Text(message).foregroundStyle(.red) }
            }
            Section {
                ForEach(records, id: \.id) { row in
                    NavigationLink(value: Route.record(row.kind, row.id)) { RecordRow(row: row) }
                }
            }
        }
        .navigationTitle("My records")
        .toolbar {
            ToolbarItem(placement: .primaryAction) {
                // Every kind is offered; the core refuses what this role may not create.
                Menu {
                    Button("Crime report") { create(.crimeReport) }
                    Button("Stop and search") { create(.stopSearch) }
                    Button("Neighbourhood issue") { create(.neighbourhoodIssue) }
                } label: {
                    Label("New", systemImage: "plus")
                }
            }
        }
        .refreshable {
            await store.syncNow()
            await load()
        }
        .task { await load() }
        // A finished sync may have merged team changes or returns into these records.
        .onChange(of: store.syncStatus) { _ in Task { await load() } }
    }

    private func load() async {
        do {
            // Person records are opened from the record that names them, not listed.
            records = try await store.myRecords().filter { $0.kind != .person }
            message = nil
        } catch let error as FieldbookError {
            message = error.userMessage
        } catch {
            message = error.localizedDescription
        }
    }

    private func create(_ kind: RecordKind) {
        Task {
            do {
                let record = try await store.create(kind)
                router.open(.record(kind, record.meta.id))
            } catch let error as FieldbookError {
                message = error.userMessage
            } catch {
                message = error.localizedDescription
            }
        }
    }
}

private struct RecordRow: View {
    let row: RecordSummary

    var body: some View {
        HStack(alignment: .top) {
            VStack(alignment: .leading, spacing: 2) {
                Text([row.kind.label, row.classification].compactMap { $0 }.joined(separator: " · "))
                Text((row.eventAt ?? row.createdAt).formatted(date: .abbreviated, time: .shortened))
                    .font(.footnote)
                    .foregroundStyle(.secondary)
                ForEach(notes, id: \.self) { note in
                    Text(note).font(.footnote).foregroundStyle(.orange)
                }
            }
            Spacer()
            StatusChip(status: row.status)
        }
    }

    private var notes: [String] {
        var notes: [String] = []
        if let due = row.decisionDueAt {
            notes.append("Recording decision due \(due.formatted(date: .abbreviated, time: .shortened))")
        }
        if row.receiptNeeded { notes.append("Receipt needed") }
        if row.conflicts > 0 { notes.append("\(row.conflicts) conflict(s) to resolve") }
        if !row.flags.isEmpty { notes.append(row.flags.map { $0.replacingOccurrences(of: "_", with: " ") }.joined(separator: ", ")) }
        return notes
    }
}

/// One block on where this phone stands with the server, so officers know what is safe.
struct SyncSummary: View {
    @EnvironmentObject private var store: FieldbookStore

    var body: some View {
        VStack(alignment: .leading, spacing: 4) {
            switch store.syncState {
            case .running(let progress):
                ProgressView(progressText(progress))
            case .failed(let error):
                Text(error.userMessage).foregroundStyle(.red)
            case .idle:
                EmptyView()
            }
            if let status = store.syncStatus {
                Text(status.unsynced == 0 ? "Everything sent" : "\(status.unsynced) record(s) not yet sent")
                Text(status.lastSyncAt.map { "Last sync \($0.formatted(date: .abbreviated, time: .shortened))" } ?? "Never synced")
                    .foregroundStyle(.secondary)
                if ["unauthenticated", "token-expired", "not-enrolled"].contains(status.lastError ?? "") {
                    Button("Enrol this phone again") { store.requireEnrolment() }
                }
                ForEach(status.attention, id: \.id) { item in
                    Text("\(item.kind.label) refused by the server: \(item.message)").foregroundStyle(.red)
                }
            }
        }
        .font(.footnote)
    }

    private func progressText(_ progress: FieldbookStore.SyncProgress) -> String {
        switch progress.phase {
        case .pushing: return "Sending \(progress.pushedRecords) of \(progress.outboxRecords)"
        case .pulling: return "Receiving (\(progress.pulledRecords))"
        case .repairing: return "Repairing records"
        case .done: return "Finishing"
        }
    }
}
