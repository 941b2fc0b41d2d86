//! Choosing the process to launch (platform spec "launcher", as the reference lifecycle does it): argv0's
//! basename naming a process type selects it; otherwise the launcher's arguments are the command, `-- cmd args…`
//! direct and `cmd args…` through bash. Replaces `selectProcess`, `withUserArgs`, `eligibleForExecEnv` and
//! `processTypeFromArgv0` of `src/launch/process.ts`, plus the Platform API < 0.10 rule (user arguments appended).

use crate::api;
use crate::error::{Failure, Result};
use crate::metadata::{Metadata, Process};
use std::ffi::{OsStr, OsString};
use std::path::Path;

/// What selection needs besides the metadata.
pub struct Selection<'a> {
    /// argv[0] as invoked (`/cnb/process/web`); its basename may name a process type.
    pub argv0: &'a OsStr,
    /// The user's arguments, untouched.
    pub args: &'a [OsString],
    /// The Platform API in force.
    pub platform_api: &'a str,
    /// `CNB_EXEC_ENV` (default `production`).
    pub exec_env: &'a str,
}

fn start_error(message: String) -> Failure {
    Failure::launch(format!("determine start command: {}", message))
}

/// Whether a process may run in the execution environment (filtered from Platform 0.15 on).
pub fn eligible_for_exec_env(p: &Process, exec_env: &str, platform_api: &str) -> bool {
    if api::older(platform_api, "0.15") {
        return true;
    }
    match &p.exec_env {
        None => true,
        Some(list) => list.is_empty() || list.iter().any(|e| e == "*" || e == exec_env),
    }
}

/// The process type argv0 names, if any: its basename compared as is.
pub fn type_from_argv0<'m>(argv0: &OsStr, md: &'m Metadata) -> Option<&'m str> {
    let base = Path::new(argv0).file_name()?.to_str()?;
    md.processes.iter().find(|p| p.kind == base).map(|p| p.kind.as_str())
}

/// Applies the user's arguments to a buildpack process:
/// - Platform API < 0.10: appended to the process's args (the command was one string there);
/// - a command with more than one entry: `command[0]` with `command[1..]` always, then the user arguments if any,
///   else the default `args`;
/// - a one-entry command: the user arguments replace `args` (Buildpack API ≥ 0.9) or follow them (older).
pub fn with_user_args(p: &Process, user: &[OsString], md: &Metadata, platform_api: &str) -> Result<Process> {
    let mut out = p.clone();
    if api::older(platform_api, "0.10") {
        out.args.extend(user.iter().cloned());
        return Ok(out);
    }
    if p.command.len() > 1 {
        out.command = vec![p.command[0].clone()];
        out.args = p.command[1..].to_vec();
        out.args.extend(if user.is_empty() { p.args.iter() } else { user.iter() }.cloned());
        return Ok(out);
    }
    if user.is_empty() {
        return Ok(out);
    }
    let bp = md.buildpack_of(p).ok_or_else(|| {
        start_error(format!(
            "failed to find buildpack for process {} with buildpack ID {}",
            p.kind,
            p.buildpack_id.as_deref().unwrap_or("")
        ))
    })?;
    if api::older(&bp.api, "0.9") {
        out.args.extend(user.iter().cloned());
    } else {
        out.args = user.to_vec();
    }
    Ok(out)
}

/// Selects the process: a type named by argv0 (failing if the execution environment excludes it), else the
/// command line (`-- cmd args` direct, `cmd args` through bash; nothing is an error). The launcher never falls
/// back to the default process type itself: the exporter makes `/cnb/process/<default>` the entrypoint.
///
/// Example: `select(&md, &Selection { argv0: "/cnb/process/web", args: &[], platform_api: "0.15", exec_env: "production" })`
pub fn select(md: &Metadata, s: &Selection) -> Result<Process> {
    if let Some(kind) = type_from_argv0(s.argv0, md) {
        let p = md
            .processes
            .iter()
            .find(|p| p.kind == kind && eligible_for_exec_env(p, s.exec_env, s.platform_api))
            .ok_or_else(|| {
                let declared = md.processes.iter().find(|p| p.kind == kind).and_then(|p| p.exec_env.clone()).unwrap_or_default();
                let quoted: Vec<String> = declared.iter().map(|e| format!("\"{}\"", e)).collect();
                start_error(format!(
                    "process type \"{}\" is not eligible for execution environment \"{}\" (its exec-env: [{}])",
                    kind,
                    s.exec_env,
                    quoted.join(",")
                ))
            })?;
        if p.command.is_empty() {
            return Err(start_error(format!("no command provided for process type \"{}\"", kind)));
        }
        return with_user_args(p, s.args, md, s.platform_api);
    }
    let user = |command: &OsString, args: &[OsString], direct: bool| Process {
        kind: String::new(),
        command: vec![command.clone()],
        args: args.to_vec(),
        direct,
        buildpack_id: None,
        working_dir: None,
        exec_env: None,
    };
    match s.args {
        [] => Err(start_error("when there is no default process a command is required".to_string())),
        [dashes] if dashes == "--" => Err(start_error("a command is required after --".to_string())),
        [dashes, cmd, rest @ ..] if dashes == "--" => Ok(user(cmd, rest, true)),
        [cmd, rest @ ..] => Ok(user(cmd, rest, false)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::Buildpack;

    fn proc(kind: &str, command: &[&str], args: &[&str], bp: &str) -> Process {
        Process {
            kind: kind.into(),
            command: v(command),
            args: v(args),
            direct: true,
            buildpack_id: Some(bp.into()),
            working_dir: None,
            exec_env: None,
        }
    }

    fn md() -> Metadata {
        let mut prod = proc("prod", &["srv"], &[], "a");
        prod.exec_env = Some(vec!["production".into(), "staging".into()]);
        let mut any = proc("any", &["srv"], &[], "a");
        any.exec_env = Some(vec!["*".into()]);
        Metadata {
            buildpacks: vec![Buildpack { id: "a".into(), api: "0.12".into() }, Buildpack { id: "b".into(), api: "0.8".into() }],
            processes: vec![
                proc("web", &["srv", "--fixed"], &["--port", "80"], "a"),
                proc("one", &["srv"], &["d"], "a"),
                proc("old", &["srv"], &["d"], "b"),
                proc("orphan", &["srv"], &[], "gone"),
                prod,
                any,
            ],
        }
    }

    fn v(xs: &[&str]) -> Vec<OsString> {
        xs.iter().map(OsString::from).collect()
    }

    fn sel(argv0: &str, args: &[&str], exec_env: &str, platform: &str) -> Result<Process> {
        select(&md(), &Selection { argv0: OsStr::new(argv0), args: &v(args), platform_api: platform, exec_env })
    }

    fn ok(argv0: &str, args: &[&str]) -> Process {
        sel(argv0, args, "production", "0.15").unwrap()
    }

    #[test]
    fn user_args() {
        let p = ok("/cnb/process/web", &[]);
        assert_eq!((p.command, p.args), (v(&["srv"]), v(&["--fixed", "--port", "80"])));
        assert_eq!(ok("/cnb/process/web", &["x"]).args, v(&["--fixed", "x"]));
        assert_eq!(ok("web", &["x"]).kind, "web");
        assert_eq!(ok("/cnb/process/one", &["x", "y"]).args, v(&["x", "y"]));
        assert_eq!(ok("/cnb/process/one", &[]).args, v(&["d"]));
        assert_eq!(ok("/cnb/process/old", &["x"]).args, v(&["d", "x"]));
        assert!(sel("/cnb/process/orphan", &["x"], "production", "0.15").unwrap_err().message.contains("failed to find buildpack"));
    }

    #[test]
    fn platform_before_0_10_appends() {
        let p = sel("/cnb/process/one", &["x"], "production", "0.9").unwrap();
        assert_eq!(p.args, v(&["d", "x"]));
        let p = sel("/cnb/process/web", &["x"], "production", "0.7").unwrap();
        assert_eq!((p.command, p.args), (v(&["srv", "--fixed"]), v(&["--port", "80", "x"])));
    }

    #[test]
    fn plain_launcher() {
        let p = ok("/cnb/lifecycle/launcher", &["--", "ls", "-l"]);
        assert_eq!((p.kind.as_str(), p.command, p.args, p.direct), ("", v(&["ls"]), v(&["-l"]), true));
        let p = ok("/cnb/lifecycle/launcher", &["ls -l", "x"]);
        assert_eq!((p.command, p.args, p.direct), (v(&["ls -l"]), v(&["x"]), false));
        assert!(!ok("/cnb/lifecycle/launcher", &["web"]).direct);
        for args in [&[][..], &["--"][..]] {
            assert_eq!(sel("launcher", args, "production", "0.15").unwrap_err().code, 82);
        }
    }

    #[test]
    fn exec_env() {
        assert_eq!(sel("/cnb/process/prod", &[], "staging", "0.15").unwrap().kind, "prod");
        assert_eq!(sel("/cnb/process/any", &[], "whatever", "0.15").unwrap().kind, "any");
        assert_eq!(sel("/cnb/process/prod", &[], "test", "0.14").unwrap().kind, "prod");
        let e = sel("/cnb/process/prod", &[], "test", "0.15").unwrap_err();
        assert_eq!(e.code, 82);
        assert!(e.message.contains("process type \"prod\" is not eligible for execution environment \"test\""));
    }
}
