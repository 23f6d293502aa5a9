package org.fieldbook.core

import java.io.File
import java.io.FileOutputStream
import java.nio.channels.FileChannel
import java.nio.file.Files
import java.nio.file.StandardCopyOption
import java.nio.file.StandardOpenOption
import java.security.SecureRandom
import javax.crypto.Cipher
import javax.crypto.SecretKey
import javax.crypto.spec.GCMParameterSpec
import org.fieldbook.ffi.FieldbookException
import org.fieldbook.ffi.KeyProvider

/** Encrypts and decrypts the database key with a key the platform holds (never exported). */
interface KeyWrapper {
    fun wrap(plain: ByteArray): ByteArray
    fun unwrap(wrapped: ByteArray): ByteArray
}

/** Where the wrapped database key is kept between starts (app-private storage). */
interface WrappedKeyStorage {
    fun read(): ByteArray?
    fun write(wrapped: ByteArray)
}

/**
 * AES-GCM wrapping under [key]. On Android [key] comes from the AndroidKeyStore (see the app's
 * `AndroidKeystoreKey`), so it never leaves secure hardware; on the JVM tests use a software key.
 * Output: 12-byte IV, then ciphertext and tag.
 */
class AesGcmKeyWrapper(private val key: SecretKey) : KeyWrapper {
    override fun wrap(plain: ByteArray): ByteArray {
        val cipher = Cipher.getInstance("AES/GCM/NoPadding")
        cipher.init(Cipher.ENCRYPT_MODE, key)
        return cipher.iv + cipher.doFinal(plain)
    }

    override fun unwrap(wrapped: ByteArray): ByteArray {
        require(wrapped.size > IV_BYTES) { "the stored database key is damaged" }
        val cipher = Cipher.getInstance("AES/GCM/NoPadding")
        cipher.init(Cipher.DECRYPT_MODE, key, GCMParameterSpec(128, wrapped, 0, IV_BYTES))
        return cipher.doFinal(wrapped, IV_BYTES, wrapped.size - IV_BYTES)
    }

    private companion object {
        const val IV_BYTES = 12
    }
}

/** Keeps the wrapped key in one file (the app passes a file in its no-backup directory). */
class FileWrappedKeyStorage(private val file: File) : WrappedKeyStorage {
    override fun read(): ByteArray? = if (file.exists()) file.readBytes() else null

    /**
     * Durable before it returns: the store is synced on every write, so a key lost to a power
     * cut would make every record unreadable. Written aside, flushed, moved into place
     * atomically, and the directory entry flushed too.
     */
    override fun write(wrapped: ByteArray) {
        val partial = File(file.path + ".partial")
        FileOutputStream(partial).use { out ->
            out.write(wrapped)
            out.fd.sync()
        }
        Files.move(partial.toPath(), file.toPath(), StandardCopyOption.ATOMIC_MOVE)
        runCatching { FileChannel.open(file.absoluteFile.parentFile.toPath(), StandardOpenOption.READ).use { it.force(true) } }
    }
}

/**
 * The [KeyProvider] the core asks for the database key: 32 random bytes made on first use,
 * stored only wrapped by [wrapper]. The store cannot be opened without the platform key.
 */
class WrappedDatabaseKeyProvider(
    private val wrapper: KeyWrapper,
    private val storage: WrappedKeyStorage,
) : KeyProvider {
    @Synchronized
    override fun databaseKey(): ByteArray {
        try {
            storage.read()?.let { return wrapper.unwrap(it) }
            val key = ByteArray(32).also { SecureRandom().nextBytes(it) }
            storage.write(wrapper.wrap(key))
            return key
        } catch (e: Exception) {
            throw FieldbookException.Storage("key-unavailable", "the database key could not be read from the platform keystore")
        }
    }
}
