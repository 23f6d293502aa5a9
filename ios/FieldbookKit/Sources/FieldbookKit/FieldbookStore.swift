import Foundation
import FieldbookFFI

/// The one object the app's screens use: the encrypted store on this phone, as async methods
/// that never block the main actor, and the sync state as published properties. Holds no rules:
/// every check, permission and merge is the core's.
@MainActor
public final class FieldbookStore: ObservableObject {
    public enum Phase {
        case opening
        /// First run on this phone: no store yet.
        case needsSetup
        /// The store is open; `enrolled` is false until the device has enrolled with the server.
        case ready(UserInfo, enrolled: Bool)
        /// The store exists but cannot be opened (key gone, corrupt file, newer schema).
        case unreadable(FieldbookError)
    }

    public struct SyncProgress: Equatable {
        public var phase: SyncPhase
        public var outboxRecords: UInt64 = 0
        public var pushedRecords: UInt64 = 0
        public var pulledRecords: UInt64 = 0
        public var pages: UInt64 = 0
    }

    public enum SyncState {
        case idle(SyncReport?)
        case running(SyncProgress)
        case failed(FieldbookError)
    }

    @Published public private(set) var phase: Phase = .opening
    @Published public private(set) var syncState: SyncState = .idle(nil)
    @Published public private(set) var syncStatus: SyncStatus?

    private let directory: URL
    private let keys: KeychainKeyProvider
    private let connectivity: NetworkConnectivity
    private var device: FieldbookDevice?
    private var syncTask: Task<Void, Never>?
    private var openTask: Task<Void, Never>?
    // Blocking core calls run here, never on the main thread; the device serialises them itself.
    private let queue = DispatchQueue(label: "org.fieldbook.store", qos: .userInitiated, attributes: .concurrent)

    public init(
        directory: URL = FieldbookStore.defaultDirectory,
        keys: KeychainKeyProvider = KeychainKeyProvider(),
        connectivity: NetworkConnectivity = NetworkConnectivity()
    ) {
        self.directory = directory
        self.keys = keys
        self.connectivity = connectivity
        connectivity.onChange { [weak self] connected in
            guard connected else { return }
            Task { @MainActor in await self?.syncIfWorkIsWaiting() }
        }
    }

    /// Application Support/Fieldbook: kept out of backups, since the key never leaves this phone.
    public nonisolated static var defaultDirectory: URL {
        FileManager.default.urls(for: .applicationSupportDirectory, in: .userDomainMask)[0]
            .appendingPathComponent("Fieldbook", isDirectory: true)
    }

    private var storeURL: URL { directory.appendingPathComponent("fieldbook.fbk") }

    // MARK: Opening, setting up, enrolling

    /// Opens the store if there is one. One opening at a time: a second caller (a background
    /// task launched with the app) waits for the first. Safe to call again after an unreadable start.
    public func open() async {
        if let opening = openTask {
            await opening.value
            return
        }
        let task = Task { await openStore() }
        openTask = task
        await task.value
        openTask = nil
    }

    private func openStore() async {
        let path = storeURL.path
        guard FileManager.default.fileExists(atPath: path) else {
            phase = .needsSetup
            return
        }
        let keys = self.keys, connectivity = self.connectivity
        do {
            let device = try await background {
                try FieldbookDevice.open(path: path, keys: keys, clock: nil, connectivity: connectivity)
            }
            try await adopt(device)
        } catch {
            phase = .unreadable(error as? FieldbookError ?? .Other(code: "unexpected", detail: "\(error)"))
        }
    }

    /// Tries again after the phone is unlocked: the Keychain is closed until the first unlock.
    public func reopenIfUnreadable() async {
        if case .unreadable = phase { await open() }
    }

    /// First run: creates the store for this officer, then enrols the device.
    public func setUp(officer: String, role: Role, server: String, code: String, label: String) async throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var excluded = URLResourceValues()
        excluded.isExcludedFromBackup = true
        var directory = self.directory
        try directory.setResourceValues(excluded)
        let path = storeURL.path, keys = self.keys, connectivity = self.connectivity
        let device = try await background {
            try FieldbookDevice.setup(path: path, officer: officer, role: role, keys: keys, clock: nil, connectivity: connectivity)
        }
        try await adopt(device)
        try await enrol(server: server, code: code, label: label)
    }

    /// Enrols the open store with the server using a one-time code issued to this officer.
    public func enrol(server: String, code: String, label: String) async throws {
        let device = try requireDevice()
        _ = try await device.enrol(server: server, code: code, label: label)
        try await adopt(device)
        Task { await syncNow() }
    }

    /// After the server stops accepting this device's sign-in (the store's last error is
    /// `unauthenticated`, `token-expired` or `not-enrolled`): back to enrolment; the store and
    /// its work stay.
    public func requireEnrolment() {
        if case .ready(let user, _) = phase { phase = .ready(user, enrolled: false) }
    }

    /// Moves an unreadable store aside, byte for byte (nothing is deleted), and starts again.
    /// Synced records come back from the server after enrolment; unsynced ones stay unreadable.
    public func keepUnreadableStoreAndStartAgain() async {
        let store = storeURL
        let aside = directory.appendingPathComponent("unreadable-\(Int(Date().timeIntervalSince1970))", isDirectory: true)
        try? await background {
            let files = FileManager.default
            try files.createDirectory(at: aside, withIntermediateDirectories: true)
            for suffix in ["", "-wal", "-shm"] {
                let file = URL(fileURLWithPath: store.path + suffix)
                if files.fileExists(atPath: file.path) {
                    try files.moveItem(at: file, to: aside.appendingPathComponent(file.lastPathComponent))
                }
            }
        }
        device = nil
        phase = .needsSetup
    }

    // MARK: Records (each call runs off the main actor)

    public func myRecords() async throws -> [RecordSummary] {
        try await perform { device in try device.list(filter: RecordFilter(kind: nil, status: nil, author: device.user().officer, limit: nil)) }
    }

    public func list(_ filter: RecordFilter) async throws -> [RecordSummary] {
        try await perform { try $0.list(filter: filter) }
    }

    public func create(_ kind: RecordKind) async throws -> Record {
        try await perform { try $0.createRecord(kind: kind) }
    }

    public func get(_ id: String) async throws -> Record {
        try await perform { try $0.get(id: id) }
    }

    public func getVersioned(_ id: String) async throws -> VersionedRecord {
        try await perform { try $0.getVersioned(id: id) }
    }

    /// Saves the fields changed since `version` was read; changes a sync merged meanwhile are kept.
    public func saveVersioned(_ record: Record, version: String) async throws {
        try await perform { try $0.saveVersioned(record: record, version: version) }
    }

    public func save(_ record: Record) async throws {
        try await perform { try $0.save(record: record) }
    }

    /// `classification=8N`, `outcome=16`: the core fills in labels and category from reference data.
    public func setFields(_ id: String, _ assignments: [String]) async throws -> Record {
        try await perform { try $0.setFields(id: id, assignments: assignments) }
    }

    public func check(_ id: String) async throws -> [Finding] {
        try await perform { try $0.check(id: id) }
    }

    /// Submits for review (refused with every finding at once), then syncs when it can.
    public func submit(_ id: String) async throws -> Record {
        let record = try await perform { try $0.submit(id: id) }
        Task { await syncNow() }
        return record
    }

    public func approve(_ id: String) async throws -> Record {
        let record = try await perform { try $0.approve(id: id) }
        Task { await syncNow() }
        return record
    }

    public func returnToAuthor(_ id: String, reason: String) async throws -> Record {
        let record = try await perform { try $0.returnToAuthor(id: id, reason: reason) }
        Task { await syncNow() }
        return record
    }

    public func reviewQueue() async throws -> [QueueItem] {
        try await perform { try $0.reviewQueue() }
    }

    public func returnedToMe() async throws -> [ReturnedItem] {
        try await perform { try $0.returnedToMe() }
    }

    public func receipt(_ id: String) async throws -> String {
        try await perform { try $0.receipt(id: id) }
    }

    public func referenceLists() async throws -> ReferenceLists {
        try await perform { $0.referenceLists() }
    }

    // MARK: Quarantine (what the server refused; kept until the officer dismisses it)

    /// What the server refused and this phone kept, oldest first. The app never dismisses an
    /// item itself: each stays until the officer has read it and confirmed.
    public func quarantine() async throws -> [QuarantineItem] {
        try await perform { try $0.quarantine() }
    }

    /// The whole refused record kept as item `quarantineId`, to read and copy from (never saved).
    public func quarantinedRecord(_ recordId: String, quarantineId: UInt64) async throws -> Record {
        try await perform { try $0.quarantinedRecord(recordId: recordId, quarantineId: quarantineId) }
    }

    /// Deletes a kept refused state for good, after the officer confirmed they copied what they
    /// need; the records list's count follows.
    public func dismissQuarantine(_ quarantineId: UInt64) async throws {
        try await perform { try $0.dismissQuarantine(quarantineId: quarantineId) }
        await refreshSyncStatus()
    }

    // MARK: Sync

    /// Runs one sync, or waits for the one already running. Task cancellation stops it through
    /// the core's cancel handle; what it applied is kept.
    public func syncNow() async {
        if let running = syncTask {
            await running.value
            return
        }
        let task = Task { await runSync() }
        syncTask = task
        await task.value
        syncTask = nil
    }

    public func cancelSync() {
        syncTask?.cancel()
    }

    public func refreshSyncStatus() async {
        syncStatus = try? await perform { try $0.syncStatus() }
    }

    private func syncIfWorkIsWaiting() async {
        guard case .ready(_, enrolled: true) = phase, (syncStatus?.unsynced ?? 0) > 0 else { return }
        await syncNow()
    }

    private func runSync() async {
        guard let device, case .ready(_, enrolled: true) = phase else { return }
        let cancel = SyncCancel()
        let observer = ProgressObserver { [weak self] event in
            Task { @MainActor in self?.apply(event) }
        }
        syncState = .running(SyncProgress(phase: .pushing))
        do {
            let report = try await withTaskCancellationHandler {
                try await device.sync(observer: observer, cancel: cancel)
            } onCancel: {
                cancel.cancel()
            }
            syncState = .idle(report)
        } catch FieldbookError.Cancelled {
            syncState = .idle(nil)
        } catch {
            syncState = .failed(error as? FieldbookError ?? .Other(code: "unexpected", detail: "\(error)"))
        }
        await refreshSyncStatus()
    }

    private func apply(_ event: ProgressObserver.Event) {
        guard case .running(var progress) = syncState else { return }
        switch event {
        case .phase(let phase): progress.phase = phase
        case .outbox(let records): progress.outboxRecords = records
        case .pushed(let records): progress.pushedRecords += records
        case .pulled(let records, let pages):
            progress.pulledRecords += records
            progress.pages = pages
        }
        syncState = .running(progress)
    }

    // MARK: Plumbing

    private func adopt(_ device: FieldbookDevice) async throws {
        // Few retries per request: the next background refresh is the real retry.
        device.setSyncRetry(maxAttempts: 3, baseDelay: 0.5, maxDelay: 5)
        let status = try await background { try device.syncStatus() }
        self.device = device
        syncStatus = status
        phase = .ready(device.user(), enrolled: status.server != nil)
    }

    private func requireDevice() throws -> FieldbookDevice {
        guard let device else {
            throw FieldbookError.NotEnrolled(detail: "this phone has no Fieldbook store yet: set it up first")
        }
        return device
    }

    private func perform<T>(_ body: @escaping @Sendable (FieldbookDevice) throws -> T) async throws -> T {
        let device = try requireDevice()
        return try await background { try body(device) }
    }

    private func background<T>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(with: Result { try body() })
            }
        }
    }
}

/// Forwards the core's sync progress (called on the sync's worker thread) to the store.
final class ProgressObserver: SyncObserver, @unchecked Sendable {
    enum Event {
        case phase(SyncPhase)
        case outbox(UInt64)
        case pushed(UInt64)
        case pulled(UInt64, pages: UInt64)
    }

    private let deliver: @Sendable (Event) -> Void

    init(_ deliver: @escaping @Sendable (Event) -> Void) {
        self.deliver = deliver
    }

    func onPhase(phase: SyncPhase) { deliver(.phase(phase)) }
    func onOutbox(records: UInt64, requests: UInt64) { deliver(.outbox(records)) }
    func onPushed(records: UInt64, bytes: UInt64) { deliver(.pushed(records)) }
    func onPulled(records: UInt64, bytes: UInt64, pages: UInt64) { deliver(.pulled(records, pages: pages)) }
}
