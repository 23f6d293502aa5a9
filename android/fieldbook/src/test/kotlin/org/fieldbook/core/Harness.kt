package org.fieldbook.core

import java.io.File
import java.net.InetSocketAddress
import java.net.ServerSocket
import java.net.Socket
import java.nio.file.Files
import java.time.Duration
import java.util.concurrent.TimeUnit
import kotlin.system.exitProcess
import kotlinx.coroutines.runBlocking
import org.fieldbook.ffi.FieldbookDevice
import org.fieldbook.ffi.KeyProvider
import org.fieldbook.ffi.Role

/*
 * A small test runner for the host JVM (no Gradle or JUnit here): each test is a named suspend
 * block run under runBlocking; failures are printed and the process exits non-zero. The server
 * is the real fieldbook-server on 127.0.0.1 (path from FIELDBOOK_SERVER_BIN), the library the
 * real libfieldbook_ffi (through JNA, -Djna.library.path).
 */

class Test(val name: String, val body: suspend (Scratch) -> Unit)

/** A temporary directory per test, with its server and devices, cleaned up afterwards. */
class Scratch : AutoCloseable {
    val dir: File = Files.createTempDirectory("fieldbook-kt").toFile()
    private val closers = mutableListOf<AutoCloseable>()

    fun server(): TestServer = TestServer(File(dir, "server")).also { closers += it }

    fun proxy(upstream: String): StallingProxy = StallingProxy(upstream).also { closers += it }

    fun device(officer: String, role: Role, keys: KeyProvider = FixedKey()): FieldbookDevice =
        FieldbookDevice.setup(File(dir, "$officer.fieldbook").path, officer, role, keys).also {
            it.setSyncRetry(2u, Duration.ofMillis(20), Duration.ofMillis(100))
        }

    override fun close() {
        closers.asReversed().forEach { runCatching { it.close() } }
        dir.deleteRecursively()
    }
}

class FixedKey(private val key: ByteArray = ByteArray(32) { it.toByte() }) : KeyProvider {
    override fun databaseKey(): ByteArray = key
}

/** The key the test server's database is encrypted under (a force keeps its key in a file). */
private const val SERVER_KEY = "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a"

/** fieldbook-server on 127.0.0.1 with its own (encrypted) database; stopped on close. */
class TestServer(dir: File) : AutoCloseable {
    private val bin = System.getenv("FIELDBOOK_SERVER_BIN") ?: error("FIELDBOOK_SERVER_BIN is not set")
    private val database: String
    private val process: Process
    val url: String

    init {
        dir.mkdirs()
        database = "sqlite://" + File(dir, "server.db").path
        val log = File(dir, "server.log")
        process = ProcessBuilder(bin, "serve", "--listen", "127.0.0.1:0", "--database", database)
            .redirectErrorStream(true)
            .redirectOutput(log)
            .also {
                it.environment()["NO_COLOR"] = "1"
                it.environment()["FIELDBOOK_SERVER_KEY"] = SERVER_KEY
            }
            .start()
        val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20)
        var found: String? = null
        while (found == null) {
            check(process.isAlive && System.nanoTime() < deadline) { "fieldbook-server did not start: " + log.readText() }
            found = Regex("listening addr=(127\\.0\\.0\\.1:\\d+)").find(log.readText())?.groupValues?.get(1)
            if (found == null) Thread.sleep(50)
        }
        url = "http://$found"
    }

    fun admin(vararg args: String): String {
        val p = ProcessBuilder(bin, *args, "--database", database)
            .redirectErrorStream(false)
            .also { it.environment()["FIELDBOOK_SERVER_KEY"] = SERVER_KEY }
            .start()
        val out = p.inputStream.bufferedReader().readText().trim()
        check(p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0) { "fieldbook-server ${args.first()} failed" }
        return out
    }

    fun code(officer: String, role: String, team: String) =
        admin("enrol", "--officer", officer, "--name", officer, "--role", role, "--team", team)

    override fun close() {
        process.destroy()
        if (!process.waitFor(10, TimeUnit.SECONDS)) process.destroyForcibly().waitFor()
    }
}

/** Forwards TCP to the server, or, while [stall] is set, accepts and never answers. */
class StallingProxy(upstream: String) : AutoCloseable {
    private val target = upstream.removePrefix("http://").split(":").let { InetSocketAddress(it[0], it[1].toInt()) }
    private val listener = ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress())
    private val held = mutableListOf<Socket>()
    @Volatile var stall = false
    val url = "http://127.0.0.1:${listener.localPort}"

    init {
        Thread {
            while (!listener.isClosed) {
                val client = runCatching { listener.accept() }.getOrNull() ?: break
                if (stall) synchronized(held) { held += client } else pipe(client)
            }
        }.apply { isDaemon = true }.start()
    }

    private fun pipe(client: Socket) {
        val server = Socket().apply { connect(target, 10_000) }
        fun copy(from: Socket, to: Socket) = Thread {
            runCatching { from.getInputStream().copyTo(to.getOutputStream()) }
            runCatching { to.shutdownOutput() }
        }.apply { isDaemon = true }.start()
        copy(client, server)
        copy(server, client)
    }

    override fun close() {
        listener.close()
        synchronized(held) { held.forEach { runCatching { it.close() } } }
    }
}

fun main() {
    var passed = 0
    var failed = 0
    for (test in allTests) {
        val started = System.nanoTime()
        try {
            Scratch().use { scratch -> runBlocking { test.body(scratch) } }
            passed++
            println("PASS ${test.name} (${(System.nanoTime() - started) / 1_000_000} ms)")
        } catch (e: Throwable) {
            failed++
            println("FAIL ${test.name}: $e")
            e.printStackTrace(System.out)
        }
    }
    println("$passed passed, $failed failed")
    exitProcess(if (failed == 0) 0 else 1)
}
