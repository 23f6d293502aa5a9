//! Android only: hands the app's `Context` to rustls-platform-verifier, which the core's HTTP
//! client uses to check the server's certificate against Android's trust store. The app calls
//! `FieldbookTls.initialise(context)` once at start-up, before the first enrol or sync.

use jni::EnvUnowned;
use jni::objects::{JClass, JObject};

/// `org.fieldbook.core.FieldbookTls.initialise(Context)`. A failure becomes a Java
/// `RuntimeException`; nothing unwinds across the boundary.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_fieldbook_core_FieldbookTls_initialise<'caller>(
    mut env: EnvUnowned<'caller>,
    _class: JClass<'caller>,
    context: JObject<'caller>,
) {
    env.with_env(|env| rustls_platform_verifier::android::init_with_env(env, context))
        .resolve::<jni::errors::ThrowRuntimeExAndDefault>();
}
