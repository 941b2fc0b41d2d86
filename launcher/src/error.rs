//! Failures before the app starts and the exit codes they end with (platform spec, "Exit codes").
//! Replaces, for this program, `PhaseError` and `ExitCode` of `src/cli/exit.ts`.

use std::fmt;

/// `CNB_PLATFORM_API` names a version this launcher does not implement.
pub const EXIT_PLATFORM_API: i32 = 11;
/// A buildpack of the image has an API version this launcher does not implement.
pub const EXIT_BUILDPACK_API: i32 = 12;
/// Any other failure before the app is started.
pub const EXIT_LAUNCH: i32 = 82;

/// A failure with its exit code; printed as `ERROR: <message>`.
#[derive(Debug)]
pub struct Failure {
    pub code: i32,
    pub message: String,
}

impl Failure {
    /// A launch failure (82): `failed to launch: <message>`, as the TypeScript launcher words it.
    ///
    /// Example: `Failure::launch("read metadata: metadata.toml not found at /layers/config/metadata.toml")`
    pub fn launch(message: impl Into<String>) -> Failure {
        Failure { code: EXIT_LAUNCH, message: format!("failed to launch: {}", message.into()) }
    }

    /// A failure with its own exit code and message (the API gates, 11 and 12).
    pub fn with_code(code: i32, message: impl Into<String>) -> Failure {
        Failure { code, message: message.into() }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// What every step returns.
pub type Result<T> = std::result::Result<T, Failure>;
