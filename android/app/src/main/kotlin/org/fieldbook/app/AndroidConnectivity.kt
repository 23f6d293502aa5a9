package org.fieldbook.app

import android.content.Context
import android.net.ConnectivityManager
import android.net.NetworkCapabilities
import org.fieldbook.ffi.Connectivity

/**
 * Tells the core whether there is a network, so a sync without one fails at once with
 * `Offline` instead of spending battery on retries. Called from the sync's worker thread.
 */
class AndroidConnectivity(context: Context) : Connectivity {
    private val manager = context.getSystemService(ConnectivityManager::class.java)

    override fun isConnected(): Boolean {
        val capabilities = manager.getNetworkCapabilities(manager.activeNetwork) ?: return false
        // INTERNET, not VALIDATED: force VPNs and APNs often fail Android's validation probe
        // while reaching the sync server fine.
        return capabilities.hasCapability(NetworkCapabilities.NET_CAPABILITY_INTERNET)
    }
}
