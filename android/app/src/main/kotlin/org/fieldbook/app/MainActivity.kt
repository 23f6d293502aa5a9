package org.fieldbook.app

import android.os.Bundle
import android.view.WindowManager
import androidx.activity.ComponentActivity
import androidx.activity.compose.setContent
import androidx.activity.enableEdgeToEdge
import androidx.compose.foundation.layout.Box
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.material3.CircularProgressIndicator
import androidx.compose.material3.Surface
import androidx.compose.runtime.getValue
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import androidx.lifecycle.viewmodel.compose.viewModel
import org.fieldbook.app.ui.FieldbookNavHost
import org.fieldbook.app.ui.FieldbookTheme
import org.fieldbook.app.ui.setup.SetupScreen
import org.fieldbook.app.ui.setup.SetupViewModel
import org.fieldbook.app.ui.setup.UnreadableStoreScreen

class MainActivity : ComponentActivity() {
    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        // Victims' details and grounds on screen: keep them out of screenshots and the recents view.
        window.setFlags(WindowManager.LayoutParams.FLAG_SECURE, WindowManager.LayoutParams.FLAG_SECURE)
        enableEdgeToEdge()
        val app = application as FieldbookApp
        setContent {
            FieldbookTheme {
                Surface(Modifier.fillMaxSize()) {
                    val store by app.store.collectAsStateWithLifecycle()
                    when (val s = store) {
                        StoreState.Opening -> Box(Modifier.fillMaxSize(), contentAlignment = Alignment.Center) { CircularProgressIndicator() }
                        StoreState.NeedsSetup -> SetupScreen(viewModel { SetupViewModel(app) }, hasStore = false)
                        is StoreState.Unreadable -> UnreadableStoreScreen(s.error, app::keepUnreadableStoreAndStartAgain)
                        is StoreState.Ready ->
                            if (s.enrolled) FieldbookNavHost(app, s) else SetupScreen(viewModel { SetupViewModel(app) }, hasStore = true)
                    }
                }
            }
        }
    }
}
