import BackgroundTasks
import Foundation
import FieldbookKit

/// Background sync through BGTaskScheduler: an app-refresh task, identifier `org.fieldbook.sync`
/// (listed under BGTaskSchedulerPermittedIdentifiers in Info.plist, with the `fetch` background
/// mode). iOS decides when it runs; the app asks for no earlier than 15 minutes and syncs in the
/// foreground too (after each submit, when the network returns, on pull to refresh).
enum BackgroundSync {
    static let identifier = "org.fieldbook.sync"

    @MainActor
    static func register(store: FieldbookStore) {
        _ = BGTaskScheduler.shared.register(forTaskWithIdentifier: identifier, using: .main) { task in
            guard let task = task as? BGAppRefreshTask else { return }
            run(task, store: store)
        }
    }

    static func schedule() {
        let request = BGAppRefreshTaskRequest(identifier: identifier)
        request.earliestBeginDate = Date(timeIntervalSinceNow: 15 * 60)
        // Fails in the simulator and when background refresh is off; the foreground syncs remain.
        try? BGTaskScheduler.shared.submit(request)
    }

    private static func run(_ task: BGAppRefreshTask, store: FieldbookStore) {
        schedule()
        task.expirationHandler = {
            Task { @MainActor in store.cancelSync() }
        }
        Task { @MainActor in
            // Launched into the background: the store may still be opening.
            if case .opening = store.phase { await store.open() }
            await store.syncNow()
            if case .failed = store.syncState {
                task.setTaskCompleted(success: false)
            } else {
                task.setTaskCompleted(success: true)
            }
        }
    }
}
