import SwiftUI
import UIKit
import FieldbookKit

@main
struct FieldbookApp: App {
    @UIApplicationDelegateAdaptor(AppDelegate.self) private var delegate
    @Environment(\.scenePhase) private var scenePhase

    var body: some Scene {
        WindowGroup {
            RootView()
                .environmentObject(delegate.store)
        }
        .onChange(of: scenePhase) { phase in
            if phase == .background { BackgroundSync.schedule() }
        }
    }
}

@MainActor
final class AppDelegate: NSObject, UIApplicationDelegate {
    let store = FieldbookStore()

    func application(
        _ application: UIApplication,
        didFinishLaunchingWithOptions launchOptions: [UIApplication.LaunchOptionsKey: Any]? = nil
    ) -> Bool {
        // BGTaskScheduler takes handlers only until launch finishes.
        BackgroundSync.register(store: store)
        Task { await store.open() }
        return true
    }
}
