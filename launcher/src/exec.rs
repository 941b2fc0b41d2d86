//! Starting the app: resolve the executable as Go's `exec.LookPath` does, then `execve` in place, so the app
//! keeps the launcher's PID, gets its signals, and its exit status is the container's. Replaces `lookPath` and
//! the execve path of `execProgram` in `src/launch/exec.ts` (the child-process fallback there exists only for
//! runtimes without FFI and has no counterpart here).

use crate::env::Env;
use crate::error::{Failure, Result};
use std::ffi::{CString, OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Component, Path, PathBuf};
use std::process::Command;

/// `base` joined with `p` and normalised lexically (`.` and `..` resolved), as Node's `path.resolve` does.
///
/// Example: `resolve(Path::new("/workspace"), Path::new("sub/../bin"))` is `/workspace/bin`
pub fn resolve(base: &Path, p: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in base.join(p).components() {
        match c {
            Component::RootDir | Component::Prefix(_) => out = PathBuf::from("/"),
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(n) => out.push(n),
        }
    }
    out
}

enum Access {
    Ok,
    Missing,
    Dir,
    Denied,
}

fn access(p: &Path) -> Access {
    match std::fs::metadata(p) {
        Err(_) => Access::Missing,
        Ok(m) if m.is_dir() => Access::Dir,
        Ok(_) => {
            let c = match CString::new(p.as_os_str().as_bytes()) {
                Ok(c) => c,
                Err(_) => return Access::Missing,
            };
            // SAFETY: `c` is a valid NUL-terminated path.
            if unsafe { libc::access(c.as_ptr(), libc::X_OK) } == 0 {
                Access::Ok
            } else {
                Access::Denied
            }
        }
    }
}

/// Resolves a command: a name with a slash is a path (relative to `cwd`), others are searched in `PATH`
/// (absolute entries only). Fails (82) naming the command.
///
/// Example: `look_path(OsStr::new("bash"), Some(b"/usr/bin:/bin"), Path::new("/workspace"))?`
pub fn look_path(name: &OsStr, path_var: Option<&[u8]>, cwd: &Path) -> Result<PathBuf> {
    let shown = name.to_string_lossy();
    if name.as_bytes().contains(&b'/') {
        let p = resolve(cwd, Path::new(name));
        let why = match access(&p) {
            Access::Ok => return Ok(p),
            Access::Missing => "no such file or directory",
            Access::Dir => "is a directory",
            Access::Denied => "permission denied",
        };
        return Err(Failure::launch(format!("path lookup: exec: \"{}\": {}", shown, why)));
    }
    if !name.is_empty() {
        for dir in path_var.unwrap_or(b"").split(|&c| c == b':') {
            let dir = Path::new(OsStr::from_bytes(dir));
            if !dir.is_absolute() {
                continue;
            }
            let p = dir.join(name);
            if let Access::Ok = access(&p) {
                return Ok(p);
            }
        }
    }
    Err(Failure::launch(format!("path lookup: exec: \"{}\": executable file not found in $PATH", shown)))
}

/// What to start.
#[derive(Debug)]
pub struct ExecSpec {
    /// The resolved executable.
    pub file: PathBuf,
    /// argv, argv[0] included.
    pub argv: Vec<OsString>,
    /// The complete environment.
    pub env: Env,
    /// The directory to run in.
    pub cwd: PathBuf,
}

/// Replaces this process with the app. Returns only on failure (82). std's exec restores the signal dispositions
/// and mask a plain child gets (the Rust runtime ignores SIGPIPE for itself).
///
/// Example: `exec(&ExecSpec { file: "/usr/bin/env".into(), argv: vec!["env".into()], env, cwd: "/".into() })`
pub fn exec(spec: &ExecSpec) -> Failure {
    if let Err(e) = std::env::set_current_dir(&spec.cwd) {
        return Failure::launch(format!("change directory: {}: {}", spec.cwd.display(), e));
    }
    let mut cmd = Command::new(&spec.file);
    if let Some((argv0, rest)) = spec.argv.split_first() {
        cmd.arg0(argv0).args(rest);
    }
    cmd.env_clear().envs(spec.env.pairs());
    let e = cmd.exec();
    Failure::launch(format!("exec \"{}\": {}", spec.file.display(), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_lexically() {
        assert_eq!(resolve(Path::new("/a/b"), Path::new("../c/./d")), PathBuf::from("/a/c/d"));
        assert_eq!(resolve(Path::new("/a"), Path::new("/x/y")), PathBuf::from("/x/y"));
        assert_eq!(resolve(Path::new("/"), Path::new("../..")), PathBuf::from("/"));
    }

    #[test]
    fn looks_up_like_go() {
        assert_eq!(look_path(OsStr::new("sh"), Some(b"relative:/bin"), Path::new("/")).unwrap(), PathBuf::from("/bin/sh"));
        let e = look_path(OsStr::new("no-such-command"), Some(b"/bin"), Path::new("/")).unwrap_err();
        assert!(e.message.contains("\"no-such-command\": executable file not found in $PATH"));
        let e = look_path(OsStr::new("./missing.sh"), None, Path::new("/")).unwrap_err();
        assert!(e.message.contains("\"./missing.sh\": no such file or directory"));
        assert!(look_path(OsStr::new("/bin"), None, Path::new("/")).unwrap_err().message.contains("is a directory"));
    }
}
