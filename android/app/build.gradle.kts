plugins {
    alias(libs.plugins.android.application)
    alias(libs.plugins.kotlin.android)
    alias(libs.plugins.kotlin.compose)
}

kotlin {
    jvmToolchain(17)
}

android {
    namespace = "org.fieldbook.app"
    compileSdk = 35

    defaultConfig {
        applicationId = "org.fieldbook.app"
        // java.time (Instant, Duration) in the generated bindings needs API 26.
        minSdk = 26
        targetSdk = 35
        versionCode = 1
        versionName = "0.1.0"
        ndk {
            abiFilters += listOf("arm64-v8a", "armeabi-v7a", "x86_64")
        }
    }

    sourceSets["main"].jniLibs.srcDirs("src/main/jniLibs")

    buildTypes {
        release {
            isMinifyEnabled = true
            proguardFiles(getDefaultProguardFile("proguard-android-optimize.txt"), "proguard-rules.pro")
        }
    }

    buildFeatures {
        compose = true
    }

    packaging {
        // JNA's AAR brings libjnidispatch.so for every ABI; keep them uncompressed and page-aligned.
        jniLibs.useLegacyPackaging = false
    }
}

// libfieldbook_ffi.so comes from `cargo ndk ... -o android/app/src/main/jniLibs` (docs/app-teams.md);
// without it the app builds but dies on first use, so stop the build instead.
val nativeLibrary = file("src/main/jniLibs/arm64-v8a/libfieldbook_ffi.so")
tasks.named("preBuild") {
    doFirst {
        if (!nativeLibrary.exists()) {
            throw GradleException(
                "missing $nativeLibrary: build it with `cargo ndk -t arm64-v8a -t armeabi-v7a -t x86_64 " +
                    "-o android/app/src/main/jniLibs build --release -p fieldbook-ffi` from the repository root",
            )
        }
    }
}

dependencies {
    // The module depends on the JNA jar (desktop natives); on Android the AAR carries
    // libjnidispatch.so for each ABI instead, so swap one for the other.
    implementation(project(":fieldbook")) {
        exclude(group = "net.java.dev.jna", module = "jna")
    }
    implementation("net.java.dev.jna:jna:${libs.versions.jna.get()}@aar")
    implementation(libs.rustls.platform.verifier)

    implementation(libs.kotlinx.coroutines.android)
    implementation(libs.androidx.core.ktx)
    implementation(libs.androidx.activity.compose)
    implementation(libs.androidx.navigation.compose)
    implementation(libs.androidx.lifecycle.viewmodel.compose)
    implementation(libs.androidx.lifecycle.runtime.compose)
    implementation(libs.androidx.work.runtime.ktx)

    implementation(platform(libs.compose.bom))
    implementation(libs.compose.ui)
    implementation(libs.compose.material3)
    implementation(libs.compose.ui.tooling.preview)
    debugImplementation(libs.compose.ui.tooling)
}
