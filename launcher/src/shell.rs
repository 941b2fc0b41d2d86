//! Shell processes (`direct = false`): one bash that sources the profile scripts, `cd`s to the working directory
//! and execs the command, with the reference launcher's argv conventions:
//! `bash -c '<source lines>; cd <wd>; <tail>' <caller> <command> <args…>`. Replaces `shellQuote`,
//! `profileScripts`, `bashTail` and `bashArgv` of `src/launch/shell.ts`.
//!
//! Shell processes are those of buildpacks older than Buildpack API 0.9 (`direct = false`, the default there) and
//! the user's `launcher "cmd" args…`; from 0.9 on buildpack processes are direct and profile.d is not used for them.

use crate::error::Result;
use crate::layers;
use crate::metadata::Buildpack;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

/// Quotes a string for bash as one word: `it's` → `'it'\''s'`.
pub fn quote(s: &OsStr) -> Vec<u8> {
    let mut out = vec![b'\''];
    for &c in s.as_bytes() {
        if c == b'\'' {
            out.extend_from_slice(b"'\\''");
        } else {
            out.push(c);
        }
    }
    out.push(b'\'');
    out
}

/// The profile scripts for a process type, in the reference order: per buildpack and layer, `profile.d/*` then
/// `profile.d/<type>/*`; then `<app>/.profile` when it exists and is not a directory.
pub fn profile_scripts(layers_dir: &Path, app_dir: &Path, buildpacks: &[Buildpack], kind: &str) -> Result<Vec<PathBuf>> {
    let mut out = layers::layer_scripts(layers_dir, buildpacks, "profile.d", kind)?;
    let app_profile = app_dir.join(".profile");
    if app_profile.exists() && !app_profile.is_dir() {
        out.push(app_profile);
    }
    Ok(out)
}

/// The tail that runs the command in a nested bash. Without args the command is a script (`exec bash -c "$@"`);
/// with args every token is re-evaluated with `eval echo`, so `$VAR` expands while word boundaries stay.
pub fn tail(n_args: usize) -> String {
    if n_args == 0 {
        return r#"exec bash -c "$@""#.to_string();
    }
    let mut tokens = String::from(r#""$(eval echo \"$0\")""#);
    for i in 1..=n_args {
        tokens.push_str(&format!(r#" "$(eval echo \"${{{}}}\")""#, i));
    }
    format!(r#"exec bash -c '{}' "${{@:1}}""#, tokens)
}

/// The bash argv for a shell process.
///
/// Example: `argv(&[], "/workspace", "/cnb/lifecycle/launcher", "echo hi", &[])`
pub fn argv(profiles: &[PathBuf], working_dir: &Path, caller: &OsStr, command: &OsStr, args: &[OsString]) -> Vec<OsString> {
    let mut script: Vec<u8> = Vec::new();
    for p in profiles {
        script.extend_from_slice(b"source ");
        script.extend(quote(p.as_os_str()));
        script.push(b'\n');
    }
    script.extend_from_slice(b"cd ");
    script.extend(quote(working_dir.as_os_str()));
    script.push(b'\n');
    script.extend_from_slice(tail(args.len()).as_bytes());
    let mut out = vec![OsString::from("bash"), OsString::from("-c"), OsString::from_vec(script), caller.to_owned(), command.to_owned()];
    out.extend(args.iter().cloned());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bash_conventions() {
        assert_eq!(tail(0), r#"exec bash -c "$@""#);
        assert_eq!(tail(2), r#"exec bash -c '"$(eval echo \"$0\")" "$(eval echo \"${1}\")" "$(eval echo \"${2}\")"' "${@:1}""#);
        let a = argv(&[PathBuf::from("/l/it's.sh")], Path::new("/w"), OsStr::new("/cnb/lifecycle/launcher"), OsStr::new("cmd"), &["a".into()]);
        let want: Vec<OsString> = vec!["bash".into(), "-c".into(), format!("source '/l/it'\\''s.sh'\ncd '/w'\n{}", tail(1)).into(), "/cnb/lifecycle/launcher".into(), "cmd".into(), "a".into()];
        assert_eq!(a, want);
    }
}
