import Foundation
import Security
import FieldbookFFI

/// The database key: 32 random bytes made on first use and kept only in the Keychain, readable
/// after the first unlock since boot (so background sync works while the phone is locked) and
/// never backed up or moved to another device (`…ThisDeviceOnly`). Without it the store cannot
/// be opened: a new phone starts with a new, empty store and pulls its records from the server.
public final class KeychainKeyProvider: KeyProvider, @unchecked Sendable {
    private let service: String
    private let account = "database-key"
    private let lock = NSLock()

    public init(service: String = "org.fieldbook.db") {
        self.service = service
    }

    public func databaseKey() throws -> Data {
        lock.lock()
        defer { lock.unlock() }
        if let key = try read() {
            return key
        }
        let key = try randomKey()
        let status = SecItemAdd(query(adding: key) as CFDictionary, nil)
        if status == errSecDuplicateItem, let existing = try read() {
            return existing
        }
        guard status == errSecSuccess else {
            throw unavailable("the key could not be stored in the Keychain (\(status))")
        }
        return key
    }

    /// The stored key, nil when there is none. Any other failure (the phone not yet unlocked
    /// since boot, above all) is thrown: making a new key then would orphan the store.
    private func read() throws -> Data? {
        var query = baseQuery
        query[kSecReturnData as String] = true
        query[kSecMatchLimit as String] = kSecMatchLimitOne
        var item: CFTypeRef?
        let status = SecItemCopyMatching(query as CFDictionary, &item)
        switch status {
        case errSecSuccess:
            guard let data = item as? Data else { throw unavailable("the Keychain item holds no key") }
            return data
        case errSecItemNotFound:
            return nil
        default:
            throw unavailable("the Keychain did not give the key (\(status)); unlock the phone and try again")
        }
    }

    private var baseQuery: [String: Any] {
        [
            kSecClass as String: kSecClassGenericPassword,
            kSecAttrService as String: service,
            kSecAttrAccount as String: account,
        ]
    }

    private func query(adding key: Data) -> [String: Any] {
        var query = baseQuery
        query[kSecValueData as String] = key
        query[kSecAttrAccessible as String] = kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly
        return query
    }

    private func randomKey() throws -> Data {
        var bytes = [UInt8](repeating: 0, count: 32)
        let status = SecRandomCopyBytes(kSecRandomDefault, bytes.count, &bytes)
        guard status == errSecSuccess else { throw unavailable("no random bytes for a new key (\(status))") }
        return Data(bytes)
    }

    private func unavailable(_ detail: String) -> FieldbookError {
        .Storage(code: "key-unavailable", detail: detail)
    }
}
