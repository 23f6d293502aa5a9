package org.fieldbook.app.ui

import androidx.compose.foundation.layout.WindowInsets
import androidx.compose.foundation.layout.padding
import androidx.compose.material.icons.Icons
import androidx.compose.material.icons.automirrored.filled.List
import androidx.compose.material.icons.filled.CheckCircle
import androidx.compose.material.icons.filled.Warning
import androidx.compose.material3.Icon
import androidx.compose.material3.NavigationBar
import androidx.compose.material3.NavigationBarItem
import androidx.compose.material3.Scaffold
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.graphics.vector.ImageVector
import androidx.lifecycle.viewmodel.compose.viewModel
import androidx.navigation.NavGraph.Companion.findStartDestination
import androidx.navigation.NavHostController
import androidx.navigation.compose.NavHost
import androidx.navigation.compose.composable
import androidx.navigation.compose.currentBackStackEntryAsState
import androidx.navigation.compose.rememberNavController
import org.fieldbook.app.FieldbookApp
import org.fieldbook.app.StoreState
import org.fieldbook.app.ui.crime.CrimeReportScreen
import org.fieldbook.app.ui.crime.CrimeReportViewModel
import org.fieldbook.app.ui.issue.NeighbourhoodIssueScreen
import org.fieldbook.app.ui.issue.NeighbourhoodIssueViewModel
import org.fieldbook.app.ui.person.PersonScreen
import org.fieldbook.app.ui.person.PersonViewModel
import org.fieldbook.app.ui.quarantine.QuarantineScreen
import org.fieldbook.app.ui.quarantine.QuarantineViewModel
import org.fieldbook.app.ui.quarantine.QuarantinedRecordScreen
import org.fieldbook.app.ui.quarantine.QuarantinedRecordViewModel
import org.fieldbook.app.ui.records.MyRecordsScreen
import org.fieldbook.app.ui.records.MyRecordsViewModel
import org.fieldbook.app.ui.records.ReturnedScreen
import org.fieldbook.app.ui.records.ReturnedViewModel
import org.fieldbook.app.ui.review.ReviewQueueScreen
import org.fieldbook.app.ui.review.ReviewQueueViewModel
import org.fieldbook.app.ui.stopsearch.ReceiptScreen
import org.fieldbook.app.ui.stopsearch.ReceiptViewModel
import org.fieldbook.app.ui.stopsearch.StopSearchScreen
import org.fieldbook.app.ui.stopsearch.StopSearchViewModel
import org.fieldbook.app.ui.vna.VictimNeedsAssessmentScreen
import org.fieldbook.app.ui.vna.VictimNeedsAssessmentViewModel
import org.fieldbook.ffi.Role

private data class Tab(val route: String, val label: String, val icon: ImageVector)

@Composable
fun FieldbookNavHost(app: FieldbookApp, ready: StoreState.Ready) {
    val nav = rememberNavController()
    val repository = ready.repository
    // The review tab is shown to supervisors; the core still decides every approval.
    val tabs = listOfNotNull(
        Tab("records", "My records", Icons.AutoMirrored.Filled.List),
        Tab("returned", "Returned", Icons.Default.Warning),
        Tab("review", "Review", Icons.Default.CheckCircle).takeIf { ready.user.role == Role.SUPERVISOR },
    )
    val open: (String) -> Unit = { nav.navigate(it) }
    val back: () -> Unit = { nav.popBackStack() }

    // Each screen's own Scaffold handles the system bars; this one only makes room for the tabs.
    Scaffold(bottomBar = { TabBar(nav, tabs) }, contentWindowInsets = WindowInsets(0)) { padding ->
        NavHost(nav, startDestination = "records", modifier = Modifier.padding(padding)) {
            composable("records") { MyRecordsScreen(viewModel { MyRecordsViewModel(repository, app) }, open) }
            composable("returned") { ReturnedScreen(viewModel { ReturnedViewModel(repository) }, open) }
            composable("review") { ReviewQueueScreen(viewModel { ReviewQueueViewModel(repository, app) }, open) }
            composable("crime/{id}") { entry ->
                val id = entry.arguments?.getString("id").orEmpty()
                CrimeReportScreen(viewModel { CrimeReportViewModel(repository, id, app) }, back, open)
            }
            composable("vna/{id}") { entry ->
                val id = entry.arguments?.getString("id").orEmpty()
                VictimNeedsAssessmentScreen(viewModel { VictimNeedsAssessmentViewModel(repository, id, app) }, back)
            }
            composable("stop-search/{id}") { entry ->
                val id = entry.arguments?.getString("id").orEmpty()
                StopSearchScreen(viewModel { StopSearchViewModel(repository, id, app) }, back) { open("receipt/$it") }
            }
            composable("receipt/{id}") { entry ->
                val id = entry.arguments?.getString("id").orEmpty()
                ReceiptScreen(viewModel { ReceiptViewModel(repository, id) }, back)
            }
            composable("issue/{id}") { entry ->
                val id = entry.arguments?.getString("id").orEmpty()
                NeighbourhoodIssueScreen(viewModel { NeighbourhoodIssueViewModel(repository, id, app) }, back, open)
            }
            composable("person/{id}") { entry ->
                val id = entry.arguments?.getString("id").orEmpty()
                PersonScreen(viewModel { PersonViewModel(repository, id, app) }, back)
            }
            // What the server refused, reached from "My records" while syncStatus().quarantined > 0.
            composable("quarantine") { QuarantineScreen(viewModel { QuarantineViewModel(repository) }, back, open) }
            composable("quarantine/{recordId}/{id}") { entry ->
                val recordId = entry.arguments?.getString("recordId").orEmpty()
                val id = entry.arguments?.getString("id")?.toULongOrNull() ?: 0uL
                QuarantinedRecordScreen(viewModel { QuarantinedRecordViewModel(repository, recordId, id) }, back, open)
            }
        }
    }
}

@Composable
private fun TabBar(nav: NavHostController, tabs: List<Tab>) {
    val entry by nav.currentBackStackEntryAsState()
    val current = entry?.destination?.route
    if (tabs.none { it.route == current }) return
    NavigationBar {
        tabs.forEach { tab ->
            NavigationBarItem(
                selected = current == tab.route,
                onClick = {
                    nav.navigate(tab.route) {
                        popUpTo(nav.graph.findStartDestination().id) { saveState = true }
                        launchSingleTop = true
                        restoreState = true
                    }
                },
                icon = { Icon(tab.icon, null) },
                label = { Text(tab.label) },
            )
        }
    }
}
