package org.fieldbook.core

import java.nio.file.Files
import org.fieldbook.ffi.FieldbookDevice
import org.fieldbook.ffi.Record
import org.fieldbook.ffi.RecordFilter
import org.fieldbook.ffi.RecordKind
import org.fieldbook.ffi.Role

/**
 * The Kotlin side of the FFI overhead benchmark (scripts/bench-ffi): the same calls as
 * bindings/examples/ffi_baseline.rs — save an edited record, list 100 records — through the
 * generated bindings on the JVM. Prints one JSON line, microseconds per call.
 */
object FfiBench {
    private const val RECORDS = 100
    private const val SAVES = 300
    private const val LISTS = 2_000

    private inline fun perCallUs(n: Int, f: (Int) -> Unit): Double {
        for (i in 0 until n / 2) f(i)
        val started = System.nanoTime()
        for (i in 0 until n) f(i)
        return (System.nanoTime() - started) / 1_000.0 / n
    }

    @JvmStatic
    fun main(args: Array<String>) {
        val dir = Files.createTempDirectory("fieldbook-bench").toFile()
        try {
            val device = FieldbookDevice.setup("$dir/kt.fieldbook", "PC1", Role.OFFICER, FixedKey(ByteArray(32) { 7 }))
            repeat(RECORDS) { i ->
                val id = (device.createRecord(RecordKind.STOP_SEARCH) as Record.StopSearch).value.meta.id
                device.setFields(id, listOf("person_description=Person $i"))
            }
            val record = device.get(device.list(RecordFilter()).first().id) as Record.StopSearch
            val save = perCallUs(SAVES) { i ->
                record.value.personDescription = "Edit $i"
                device.save(record)
            }
            val filter = RecordFilter(limit = 100u)
            val list = perCallUs(LISTS) { check(device.list(filter).size == RECORDS) }
            println("""{"caller":"kotlin","save_us":${"%.1f".format(save)},"list_us":${"%.1f".format(list)}}""")
            device.close()
        } finally {
            dir.deleteRecursively()
        }
    }
}
