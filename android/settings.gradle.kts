import groovy.json.JsonSlurper

pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}

/**
 * rustls-platform-verifier (TLS under the core's HTTP client) ships the Kotlin half it calls
 * through JNI inside its crate, as a Maven repository. Cargo knows where the crate is on this
 * machine, so ask it rather than hard-coding a registry path.
 */
fun rustlsPlatformVerifierRepository(): File {
    val workspace = settingsDir.parentFile
    val result = providers.exec {
        workingDir = workspace
        isIgnoreExitValue = true
        commandLine(
            "cargo", "metadata", "--format-version", "1",
            "--filter-platform", "aarch64-linux-android",
            "--manifest-path", File(workspace, "Cargo.toml").path,
        )
    }
    if (result.result.get().exitValue != 0) {
        throw GradleException(
            "`cargo metadata` failed; Gradle needs cargo on its PATH to find rustls-platform-verifier's " +
                "Android component (see docs/app-teams.md):\n" + result.standardError.asText.get(),
        )
    }
    val metadata = JsonSlurper().parseText(result.standardOutput.asText.get()) as Map<*, *>
    val verifier = (metadata["packages"] as List<*>)
        .map { it as Map<*, *> }
        .first { it["name"] == "rustls-platform-verifier-android" }
    return File(File(verifier["manifest_path"] as String).parentFile, "maven")
}

dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()
        mavenCentral()
        maven {
            url = uri(rustlsPlatformVerifierRepository())
            metadataSources { artifact() }
        }
    }
}

rootProject.name = "fieldbook"
include(":fieldbook", ":app")
