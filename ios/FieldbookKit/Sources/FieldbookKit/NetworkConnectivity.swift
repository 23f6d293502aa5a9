import Foundation
import Network
import FieldbookFFI

/// Tells the core whether there is a network (a sync without one fails at once with `Offline`),
/// and tells the app when one appears, so waiting work can go as soon as there is signal.
public final class NetworkConnectivity: Connectivity, @unchecked Sendable {
    private let monitor = NWPathMonitor()
    private let lock = NSLock()
    private var handler: (@Sendable (Bool) -> Void)?

    public init() {
        monitor.pathUpdateHandler = { [weak self] path in
            self?.changed(path.status == .satisfied)
        }
        monitor.start(queue: DispatchQueue(label: "org.fieldbook.connectivity"))
    }

    deinit {
        monitor.cancel()
    }

    public func isConnected() -> Bool {
        monitor.currentPath.status == .satisfied
    }

    /// Called on a background queue whenever the path changes.
    public func onChange(_ handler: @escaping @Sendable (Bool) -> Void) {
        lock.lock()
        defer { lock.unlock() }
        self.handler = handler
    }

    private func changed(_ connected: Bool) {
        lock.lock()
        let handler = self.handler
        lock.unlock()
        handler?(connected)
    }
}
