//! The launcher inside app images (`/cnb/lifecycle/launcher`, `/cnb/process/<type>` links to it): a small static
//! program that does what the TypeScript launcher (`src/launch/`, `src/phase/launcher.ts`) does, so app images
//! need no JavaScript runtime. Replaces `launcherMain` of `src/phase/launcher.ts` and `src/launch/entry.ts`:
//! failures print `ERROR: <message>` and exit 11, 12 or 82; otherwise the app replaces this process.
//!
//! Usage: `/cnb/process/<type> [args…]` or `/cnb/lifecycle/launcher [--] [cmd args…]`.

mod api;
mod env;
mod error;
mod exec;
mod execd;
mod launch;
mod layers;
mod log;
mod metadata;
mod process;
mod shell;

use std::ffi::OsString;

fn main() {
    let mut argv = std::env::args_os();
    let argv0 = argv.next().unwrap_or_default();
    let args: Vec<OsString> = argv.collect();
    let environ = env::Env::from_pairs(std::env::vars_os());
    let log = log::Log::from_env(std::env::var("CNB_LOG_LEVEL").ok().as_deref());
    let failure = match launch::prepare(&argv0, &args, environ, &log) {
        Ok(prepared) => {
            log.debug(&format!("launching {:?} ({}) in {}", prepared.spec.argv, prepared.spec.file.display(), prepared.spec.cwd.display()));
            exec::exec(&prepared.spec)
        }
        Err(f) => f,
    };
    log.error(&failure.message);
    std::process::exit(failure.code);
}
