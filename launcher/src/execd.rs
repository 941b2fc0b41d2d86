//! exec.d programs: each runs with the current launch env, cwd `<app>`, stdin from /dev/null, stdout and stderr
//! inherited, and a pipe as fd 3 on which it writes TOML `NAME = "value"` pairs; each pair overrides that
//! variable before the next program runs. A failure or bad output fails the launch (82). Replaces `runExecD`,
//! `runWithFd3` and `parseExecDOutput` of `src/launch/execd.ts`. exec.d exists from Buildpack API 0.5 on, so for
//! every API this launcher accepts; the order is the reference's, layer by layer (`exec.d/` then `exec.d/<type>/`).

use crate::env::Env;
use crate::error::{Failure, Result};
use std::fs::File;
use std::io::Read;
use std::os::unix::io::{FromRawFd, RawFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, Stdio};

fn execd_error(message: String) -> Failure {
    Failure::launch(format!("exec.d: {}", message))
}

/// A pipe whose ends are closed on exec; (read, write).
fn pipe() -> std::io::Result<(File, RawFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: pipe2 writes two descriptors into the array we own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the read end is ours alone from here on.
    Ok((unsafe { File::from_raw_fd(fds[0]) }, fds[1]))
}

/// Runs `file` with the pipe's write end as its fd 3; returns its exit status and what it wrote there.
fn run_with_fd3(file: &Path, env: &Env, cwd: &Path) -> std::io::Result<(std::process::ExitStatus, Vec<u8>)> {
    let (mut reader, w) = pipe()?;
    // SAFETY: owning the write end closes it in this process once the child has it (or failed to start).
    let writer = unsafe { File::from_raw_fd(w) };
    let mut cmd = Command::new(file);
    cmd.env_clear().envs(env.pairs()).current_dir(cwd).stdin(Stdio::null());
    // SAFETY: between fork and exec only async-signal-safe calls (dup2, fcntl) are made.
    unsafe {
        cmd.pre_exec(move || {
            if w == 3 {
                // already fd 3: only its close-on-exec flag must go
                if libc::fcntl(3, libc::F_SETFD, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            } else if libc::dup2(w, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let spawned = cmd.spawn();
    drop(writer);
    let mut child = spawned?;
    let mut out = Vec::new();
    let read = reader.read_to_end(&mut out);
    let status = child.wait()?;
    read?;
    Ok((status, out))
}

/// Parses an exec.d program's output: top-level string values only.
///
/// Example: `parse_output("A = \"1\"\n")` is `Ok(vec![("A".into(), "1".into())])`
pub fn parse_output(text: &str) -> std::result::Result<Vec<(String, String)>, String> {
    let table = match text.parse::<toml::Value>().map_err(|e| e.to_string())? {
        toml::Value::Table(t) => t,
        _ => return Err("not a table".to_string()),
    };
    let mut out = Vec::new();
    for (k, v) in table {
        match v {
            toml::Value::String(s) => out.push((k, s)),
            _ => return Err(format!("value of {} is not a string", k)),
        }
    }
    Ok(out)
}

/// Runs one exec.d program and applies its output to `env`.
///
/// Example: `run_execd(Path::new("/layers/bp/layer/exec.d/set-port"), &mut env, Path::new("/workspace"))?`
pub fn run_execd(file: &Path, env: &mut Env, cwd: &Path) -> Result<()> {
    let (status, output) = run_with_fd3(file, env, cwd)
        .map_err(|e| execd_error(format!("failed to execute exec.d file at path '{}': {}", file.display(), e)))?;
    if !status.success() {
        let how = match (status.code(), status.signal()) {
            (_, Some(sig)) => format!("was killed by signal {}", sig),
            (Some(code), None) => format!("exited with status {}", code),
            (None, None) => "failed".to_string(),
        };
        return Err(execd_error(format!("failed to execute exec.d file at path '{}': it {}", file.display(), how)));
    }
    let decoded = String::from_utf8(output)
        .map_err(|e| e.to_string())
        .and_then(|text| parse_output(&text))
        .map_err(|e| {
            execd_error(format!(
                "failed to decode output from exec.d file at path '{}': {}",
                file.display(),
                e.lines().next().unwrap_or("")
            ))
        })?;
    for (k, v) in decoded {
        env.set(k.as_bytes(), v.into_bytes());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_parsing() {
        assert_eq!(parse_output("A = \"1\"\nB = \"x y\"\n").unwrap(), vec![("A".to_string(), "1".to_string()), ("B".to_string(), "x y".to_string())]);
        assert!(parse_output("").unwrap().is_empty());
        assert!(parse_output("A = 1").unwrap_err().contains("not a string"));
        assert!(parse_output("this is = = not toml").is_err());
    }
}
