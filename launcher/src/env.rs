//! The launch environment: the container's env minus the lifecycle's own variables, then each buildpack's layers
//! in metadata order — the root dirs of all layers of a buildpack (`bin` → PATH, `lib` → LD_LIBRARY_PATH) first,
//! then the env dirs of its layers (`env/`, `env.launch/`, `env.launch/<type>/`). Replaces `newLaunchEnv` and
//! `applyLaunchLayers` of `src/launch/env.ts` and, for launch, `Env`, `applyEnvDir` and `addRootDirs` of
//! `src/buildpack/env.ts`. Names and values are bytes, as the kernel hands them over.
//!
//! The same for every Buildpack API from 0.7 to 0.12 (buildpack spec at its tags, reference `env/env.go`): a file
//! without suffix overrides (it prepended with the path delimiter only before 0.5), `env.launch/<process>/` exists
//! throughout, and the name is the file name up to its first `.`.

use crate::error::Result;
use crate::layers;
use crate::metadata::Buildpack;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

/// Variables the launcher removes from the app's environment.
pub const EXCLUDED: &[&str] = &["CNB_LAYERS_DIR", "CNB_APP_DIR", "CNB_PROCESS_TYPE", "CNB_PLATFORM_API", "CNB_DEPRECATION_MODE"];
/// Where the process links and the lifecycle live in an app image; both are removed from PATH.
pub const PROCESS_DIR: &str = "/cnb/process";
pub const LIFECYCLE_DIR: &str = "/cnb/lifecycle";

/// A mutable environment that keeps the order in which names were first set.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Env {
    vars: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Env {
    /// An environment from `NAME=value` pairs (later duplicates win).
    pub fn from_pairs<I: IntoIterator<Item = (OsString, OsString)>>(pairs: I) -> Env {
        let mut env = Env::default();
        for (k, v) in pairs {
            env.set(k.as_bytes(), v.into_vec());
        }
        env
    }

    pub fn get(&self, name: &[u8]) -> Option<&[u8]> {
        self.vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_slice())
    }

    pub fn set(&mut self, name: &[u8], value: Vec<u8>) {
        match self.vars.iter_mut().find(|(k, _)| k == name) {
            Some(slot) => slot.1 = value,
            None => self.vars.push((name.to_vec(), value)),
        }
    }

    pub fn remove(&mut self, name: &[u8]) {
        self.vars.retain(|(k, _)| k != name);
    }

    /// Prepends `value` to a path-like variable with `:` (or sets it when empty).
    pub fn prepend_path(&mut self, name: &[u8], value: &[u8]) {
        let cur = self.get(name).unwrap_or(b"");
        let joined = if cur.is_empty() { value.to_vec() } else { [value, b":", cur].concat() };
        self.set(name, joined);
    }

    /// The pairs for `Command::envs`.
    pub fn pairs(&self) -> impl Iterator<Item = (&OsStr, &OsStr)> {
        self.vars.iter().map(|(k, v)| (OsStr::from_bytes(k), OsStr::from_bytes(v)))
    }
}

/// The starting launch env: `environ` without the excluded variables, `/cnb/process` and `/cnb/lifecycle`
/// removed from PATH.
pub fn new_launch_env(mut env: Env) -> Env {
    for k in EXCLUDED {
        env.remove(k.as_bytes());
    }
    if let Some(p) = env.get(b"PATH") {
        let kept: Vec<&[u8]> = p.split(|&c| c == b':').filter(|part| *part != PROCESS_DIR.as_bytes() && *part != LIFECYCLE_DIR.as_bytes()).collect();
        let joined = kept.join(&b':');
        env.set(b"PATH", joined);
    }
    env
}

/// Prepends a layer's `bin` to PATH and `lib` to LD_LIBRARY_PATH, where they are directories.
pub fn add_root_dirs(env: &mut Env, layer: &Path) {
    for (sub, var) in [("bin", "PATH"), ("lib", "LD_LIBRARY_PATH")] {
        let p = layer.join(sub);
        if p.is_dir() {
            env.prepend_path(var.as_bytes(), p.as_os_str().as_bytes());
        }
    }
}

/// Splits an env file name at its first `.`: `PATH.prepend` → (`PATH`, `prepend`), `GREETING` → (`GREETING`, ``).
fn split_name(file: &[u8]) -> (&[u8], &[u8]) {
    match file.iter().position(|&c| c == b'.') {
        Some(i) => (&file[..i], &file[i + 1..]),
        None => (file, b""),
    }
}

/// Applies the env files of one directory: `NAME` (override), `NAME.override`, `NAME.default`, `NAME.prepend`,
/// `NAME.append`, with `NAME.delim` as that name's delimiter in this directory (none if absent). Files (symlinks
/// followed) in name order; directories and unknown suffixes are skipped; a missing directory is fine.
///
/// Example: `apply_env_dir(&mut env, Path::new("/layers/bp/layer/env.launch"))`
pub fn apply_env_dir(env: &mut Env, dir: &Path) {
    let mut names: Vec<OsString> = match std::fs::read_dir(dir) {
        Ok(rd) => rd.filter_map(|e| e.ok()).map(|e| e.file_name()).collect(),
        Err(_) => return,
    };
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    let files: Vec<(OsString, Vec<u8>)> = names
        .into_iter()
        .filter(|n| dir.join(n).is_file())
        .filter_map(|n| std::fs::read(dir.join(&n)).ok().map(|v| (n, v)))
        .collect();
    let delim = |name: &[u8]| -> &[u8] {
        files
            .iter()
            .rev()
            .find(|(f, _)| f.as_bytes().ends_with(b".delim") && split_name(f.as_bytes()).0 == name)
            .map_or(&b""[..], |(_, v)| v.as_slice())
    };
    for (f, value) in &files {
        let (name, suffix) = split_name(f.as_bytes());
        if name.is_empty() || suffix == b"delim" {
            continue;
        }
        let cur = env.get(name).unwrap_or(b"").to_vec();
        let d = delim(name);
        match suffix {
            b"" | b"override" => env.set(name, value.clone()),
            b"default" if cur.is_empty() => env.set(name, value.clone()),
            b"prepend" => env.set(name, if cur.is_empty() { value.clone() } else { [value.as_slice(), d, &cur].concat() }),
            b"append" => env.set(name, if cur.is_empty() { value.clone() } else { [cur.as_slice(), d, value].concat() }),
            _ => {}
        }
    }
}

/// Applies every buildpack's layers to `env` (see the module doc); `kind` is the process type ("" for none).
///
/// Example: `apply_launch_layers(&mut env, Path::new("/layers"), &md.buildpacks, "web")?`
pub fn apply_launch_layers(env: &mut Env, layers_dir: &Path, buildpacks: &[Buildpack], kind: &str) -> Result<()> {
    for bp_dir in layers::buildpack_dirs(layers_dir, buildpacks)? {
        let layer_dirs = layers::layer_dirs(&bp_dir)?;
        for layer in &layer_dirs {
            add_root_dirs(env, layer);
        }
        for layer in &layer_dirs {
            apply_env_dir(env, &layer.join("env"));
            apply_env_dir(env, &layer.join("env.launch"));
            if !kind.is_empty() {
                apply_env_dir(env, &layer.join("env.launch").join(kind));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs.iter().map(|(k, v)| (OsString::from(k), OsString::from(v))))
    }

    #[test]
    fn starting_env() {
        let e = new_launch_env(env(&[
            ("PATH", "/cnb/process:/a:/cnb/lifecycle:/b"),
            ("CNB_APP_DIR", "x"),
            ("CNB_EXEC_ENV", "test"),
            ("CNB_PLATFORM_API", "0.15"),
            ("FOO", "bar"),
        ]));
        assert_eq!(e, env(&[("PATH", "/a:/b"), ("CNB_EXEC_ENV", "test"), ("FOO", "bar")]));
    }

    #[test]
    fn env_file_rules() {
        let dir = std::env::temp_dir().join(format!("launcher-env-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("SUBDIR")).unwrap();
        for (f, v) in [("A", "one"), ("B.default", "b"), ("C.default", "c"), ("P.prepend", "x"), ("P.delim", ":"), ("Q.append", "y"), ("U.weird", "u"), (".hidden", "h")] {
            std::fs::write(dir.join(f), v).unwrap();
        }
        let mut e = env(&[("C", "kept"), ("P", "base"), ("Q", "base")]);
        apply_env_dir(&mut e, &dir);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(e.get(b"A"), Some(&b"one"[..]));
        assert_eq!(e.get(b"B"), Some(&b"b"[..]));
        assert_eq!(e.get(b"C"), Some(&b"kept"[..]));
        assert_eq!(e.get(b"P"), Some(&b"x:base"[..]));
        assert_eq!(e.get(b"Q"), Some(&b"basey"[..]));
        assert_eq!(e.get(b"U"), None);
        assert_eq!(e.get(b"SUBDIR"), None);
        apply_env_dir(&mut e, Path::new("/no/such/dir"));
    }
}
