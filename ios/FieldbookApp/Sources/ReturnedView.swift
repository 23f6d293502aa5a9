import SwiftUI
import FieldbookKit

/// Records a supervisor sent back, each with what to change: the officer's task list.
struct ReturnedView: View {
    @EnvironmentObject private var store: FieldbookStore
    @State private var returned: [ReturnedItem] = []
    @State private var message: String?

    var body: some View {
        List {
            if let message {
                Text(message).foregroundStyle(.red)
            }
            if returned.isEmpty {
                Text("Nothing returned.").foregroundStyle(.secondary)
            }
            ForEach(returned, id: \.id) { item in
                NavigationLink(value: Route.record(item.kind, item.id)) {
                    VStack(alignment: .leading, spacing: 4) {
                        Text(item.kind.label).font(.headline)
                        Text("Returned by \(item.by), \(item.at.formatted(date: .abbreviated, time: .shortened))")
                            .font(.footnote)
                            .foregroundStyle(.secondary)
                        Text(item.reason)
                    }
                }
            }
        }
        .navigationTitle("Returned to me")
        .task { await load() }
        .refreshable { await load() }
        .onChange(of: store.syncStatus) { _ in Task { await load() } }
    }

    private func load() async {
        do {
            returned = try await store.returnedToMe()
            message = nil
        } catch let error as FieldbookError {
            message = error.userMessage
        } catch {
            message = error.localizedDescription
        }
    }
}
