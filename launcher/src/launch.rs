//! The launcher from inputs to exec: checks the Platform API, reads metadata.toml, selects the process, builds the
//! launch env, runs exec.d, then resolves what to exec — the app itself (direct) or bash with the profile scripts
//! (shell processes). Replaces `prepareLaunch`, `runLauncher` and `bashPath` of `src/phase/launcher.ts`.
//!
//! Inputs: `CNB_PLATFORM_API` (unset: the newest supported; unsupported: exit 11), `CNB_LAYERS_DIR` (`/layers`),
//! `CNB_APP_DIR` (`/workspace`), `CNB_EXEC_ENV` (`production`), `<layers>/config/metadata.toml` (a buildpack API
//! that is not supported: exit 12). Any other failure before the app starts exits 82.

use crate::api;
use crate::env::{self, Env, PROCESS_DIR};
use crate::error::{Failure, Result};
use crate::exec::{look_path, resolve, ExecSpec};
use crate::execd::run_execd;
use crate::layers::layer_scripts;
use crate::log::Log;
use crate::metadata::{read_metadata, Process};
use crate::process::{select, Selection};
use crate::shell;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

/// Everything decided before the app starts.
#[derive(Debug)]
pub struct Prepared {
    pub process: Process,
    pub spec: ExecSpec,
}

fn text(env: &Env, name: &str) -> Option<String> {
    env.get(name.as_bytes()).map(|v| String::from_utf8_lossy(v).into_owned())
}

fn dir_from(env: &Env, name: &str, default: &str) -> PathBuf {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    match env.get(name.as_bytes()) {
        Some(v) if !v.is_empty() => resolve(&cwd, Path::new(OsStr::from_bytes(v))),
        _ => PathBuf::from(default),
    }
}

/// bash for shell processes: `/bin/bash` as the reference uses, else the first `bash` on the launch PATH.
fn bash_path(env: &Env, app_dir: &Path) -> Result<PathBuf> {
    let bin_bash = Path::new("/bin/bash");
    match look_path(bin_bash.as_os_str(), None, app_dir) {
        Ok(p) => Ok(p),
        Err(_) => look_path(OsStr::new("bash"), env.get(b"PATH"), app_dir),
    }
}

/// Does everything up to the exec (exec.d programs run here, and may print).
///
/// Example: `let p = prepare(OsStr::new("/cnb/process/web"), &[], environ, &log)?;`
pub fn prepare(argv0: &OsStr, args: &[OsString], environ: Env, log: &Log) -> Result<Prepared> {
    let platform_api = api::platform_api(text(&environ, "CNB_PLATFORM_API").as_deref())?;
    let layers_dir = dir_from(&environ, "CNB_LAYERS_DIR", "/layers");
    let app_dir = dir_from(&environ, "CNB_APP_DIR", "/workspace");
    let exec_env = text(&environ, "CNB_EXEC_ENV").filter(|e| !e.is_empty()).unwrap_or_else(|| "production".to_string());
    if let Some(legacy) = text(&environ, "CNB_PROCESS_TYPE").filter(|t| !t.is_empty()) {
        log.warn(&format!("CNB_PROCESS_TYPE is not supported in Platform API {}", platform_api));
        log.warn(&format!("Run with ENTRYPOINT '{}/{}' to invoke the '{}' process type", PROCESS_DIR, legacy, legacy));
    }

    let md = read_metadata(&layers_dir)?;
    let process = select(&md, &Selection { argv0, args, platform_api: &platform_api, exec_env: &exec_env })?;

    std::env::set_current_dir(&app_dir).map_err(|e| Failure::launch(format!("change to app directory: {}: {}", app_dir.display(), e)))?;
    let mut env = env::new_launch_env(environ);
    env::apply_launch_layers(&mut env, &layers_dir, &md.buildpacks, &process.kind)?;
    for program in layer_scripts(&layers_dir, &md.buildpacks, "exec.d", &process.kind)? {
        run_execd(&program, &mut env, &app_dir)?;
    }

    let working_dir = match &process.working_dir {
        Some(w) => resolve(&app_dir, Path::new(w)),
        None => app_dir.clone(),
    };
    let spec = if process.direct {
        let file = look_path(&process.command[0], env.get(b"PATH"), &app_dir)?;
        let argv = process.command.iter().chain(process.args.iter()).cloned().collect();
        ExecSpec { file, argv, env, cwd: working_dir }
    } else {
        let profiles = shell::profile_scripts(&layers_dir, &app_dir, &md.buildpacks, &process.kind)?;
        let command = OsString::from_vec(process.command.iter().map(|c| c.as_bytes()).collect::<Vec<_>>().join(&b' '));
        let argv = shell::argv(&profiles, &working_dir, argv0, &command, &process.args);
        ExecSpec { file: bash_path(&env, &app_dir)?, argv, env, cwd: app_dir }
    };
    Ok(Prepared { process, spec })
}
