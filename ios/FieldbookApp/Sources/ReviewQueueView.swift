import SwiftUI
import FieldbookKit

/// The team's submitted records, oldest first, with what the core found, how long each has
/// waited and, for a record changed after approval, what changed. Whether a record may be
/// approved is the core's answer (`canApprove`, `blockedBecause`).
struct ReviewQueueView: View {
    @EnvironmentObject private var store: FieldbookStore
    @State private var queue: [QueueItem] = []
    @State private var message: String?
    @State private var returning: QueueItem?
    @State private var reason = ""

    var body: some View {
        List {
            if let message {
                Text(message).foregroundStyle(.red)
            }
            if queue.isEmpty {
                Text("Nothing waiting for review.").foregroundStyle(.secondary)
            }
            ForEach(queue, id: \.id) { item in
                QueueItemView(item: item, onApprove: { act { _ = try await store.approve(item.id) } }, onReturn: {
                    reason = ""
                    returning = item
                })
            }
        }
        .navigationTitle("Review queue")
        .task { await load() }
        .refreshable {
            await store.syncNow()
            await load()
        }
        .alert("Return to author", isPresented: Binding(get: { returning != nil }, set: { if !$0 { returning = nil } })) {
            TextField("What to change", text: $reason)
            Button("Return") {
                if let item = returning {
                    act { _ = try await store.returnToAuthor(item.id, reason: reason) }
                }
            }
            Button("Cancel", role: .cancel) {}
        }
    }

    private func load() async {
        do {
            queue = try await store.reviewQueue()
        } catch let error as FieldbookError {
            message = error.userMessage
        } catch {
            message = error.localizedDescription
        }
    }

    private func act(_ action: @escaping () async throws -> Void) {
        Task {
            message = nil
            do {
                try await action()
            } catch let error as FieldbookError {
                message = error.userMessage
            } catch {
                message = error.localizedDescription
            }
            await load()
        }
    }
}

private struct QueueItemView: View {
    let item: QueueItem
    let onApprove: () -> Void
    let onReturn: () -> Void

    var body: some View {
        VStack(alignment: .leading, spacing: 6) {
            HStack {
                Text("\(item.kind.label) by \(item.author)").font(.headline)
                Spacer()
                StatusChip(status: item.status)
            }
            Text("Reported \(item.reportedAt.formatted(date: .abbreviated, time: .shortened)), waiting \(item.waiting.waitingText)")
                .font(.footnote)
                .foregroundStyle(.secondary)
            switch item.approval {
            case .notApproved:
                EmptyView()
            case .approved(let by, let at):
                Text("Approved by \(by), \(at.formatted(date: .abbreviated, time: .shortened))").font(.footnote)
            case .changedSinceApproval(let by, let at, let changedFields):
                Text("Changed since \(by) approved it (\(at.formatted(date: .abbreviated, time: .shortened))):").font(.footnote.bold())
                ForEach(changedFields, id: \.self) { diff in
                    Text("\(diff.field): \(diff.oldJson) → \(diff.newJson)").font(.footnote)
                }
            }
            FindingsText(findings: item.findings, showField: true)
            if let blocked = item.blockedBecause {
                Text(blocked).font(.footnote).foregroundStyle(.red)
            }
            HStack {
                NavigationLink("Open", value: Route.record(item.kind, item.id))
                Spacer()
                Button("Return…", action: onReturn)
                Spacer()
                Button("Approve", action: onApprove).disabled(!item.canApprove)
            }
            .buttonStyle(.borderless)
        }
    }
}
