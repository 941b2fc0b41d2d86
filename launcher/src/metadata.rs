//! What the launcher reads from `<layers>/config/metadata.toml`: the buildpacks in group order (with the
//! Buildpack API gate, exit 12) and the processes. Replaces `readLaunchMetadata` of `src/launch/metadata.ts`.
//!
//! A process `command` is an array (Platform API ≥ 0.10) or a single string (older platforms); both are read.
//! A process without `direct` is a shell process when its buildpack's API is older than 0.9 (`direct` defaulted
//! to false in launch.toml there) and direct otherwise (Buildpack API ≥ 0.9 processes are always direct).

use crate::api;
use crate::error::{Failure, Result};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use toml::Value;

/// A process as the launcher runs it: `command[0]` is the executable, `args` follow `command[1..]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Process {
    /// The process type; "" for a command given on the launcher's command line.
    pub kind: String,
    pub command: Vec<OsString>,
    /// Default arguments (replaced or extended by user arguments, see `process::with_user_args`).
    pub args: Vec<OsString>,
    /// Exec the command directly (true) or through bash with the profile scripts (false).
    pub direct: bool,
    pub buildpack_id: Option<String>,
    /// `None` means `<app>`.
    pub working_dir: Option<String>,
    /// Execution environments the process may run in (Platform 0.15); `None` means all.
    pub exec_env: Option<Vec<String>>,
}

/// A buildpack of the image, in group order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Buildpack {
    pub id: String,
    pub api: String,
}

/// The parts of metadata.toml the launcher uses.
#[derive(Clone, Debug, Default)]
pub struct Metadata {
    pub buildpacks: Vec<Buildpack>,
    pub processes: Vec<Process>,
}

impl Metadata {
    /// The buildpack that contributed a process, by its `buildpack-id`.
    pub fn buildpack_of(&self, p: &Process) -> Option<&Buildpack> {
        let id = p.buildpack_id.as_deref()?;
        self.buildpacks.iter().find(|b| b.id == id)
    }
}

/// `<layers>/config/metadata.toml`.
pub fn metadata_path(layers_dir: &Path) -> PathBuf {
    layers_dir.join("config").join("metadata.toml")
}

fn bad(message: String) -> Failure {
    Failure::launch(format!("read metadata: {}", message))
}

fn string_list(v: Option<&Value>, what: &str) -> Result<Vec<String>> {
    match v {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|x| x.as_str().map(str::to_string).ok_or_else(|| bad(format!("{} must be an array of strings", what))))
            .collect(),
        Some(_) => Err(bad(format!("{} must be an array of strings", what))),
    }
}

fn os_list(v: Vec<String>) -> Vec<OsString> {
    v.into_iter().map(OsString::from).collect()
}

fn opt_string(t: &Value, key: &str) -> Option<String> {
    t.get(key).and_then(Value::as_str).map(str::to_string)
}

/// Reads and checks metadata.toml: a missing or malformed file fails the launch (82), a buildpack whose API is
/// not supported exits 12.
///
/// Example: `let md = read_metadata(Path::new("/layers"))?;`
pub fn read_metadata(layers_dir: &Path) -> Result<Metadata> {
    let file = metadata_path(layers_dir);
    let text = std::fs::read_to_string(&file).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            bad(format!("metadata.toml not found at {}", file.display()))
        } else {
            bad(format!("cannot read metadata.toml {}: {}", file.display(), e))
        }
    })?;
    parse_metadata(&text).map_err(|f| match f {
        ParseError::Toml(e) => bad(format!("metadata.toml {} is not valid TOML: {}", file.display(), e)),
        ParseError::Failure(f) => f,
    })
}

/// Why `parse_metadata` failed: the text is not TOML, or its content is wrong (with its exit code).
pub enum ParseError {
    Toml(String),
    Failure(Failure),
}

impl From<Failure> for ParseError {
    fn from(f: Failure) -> ParseError {
        ParseError::Failure(f)
    }
}

/// Parses the text of metadata.toml (see `read_metadata`).
pub fn parse_metadata(text: &str) -> std::result::Result<Metadata, ParseError> {
    let raw: Value = text.parse::<Value>().map_err(|e| ParseError::Toml(e.to_string().lines().next().unwrap_or("").to_string()))?;
    let mut md = Metadata::default();
    for b in raw.get("buildpacks").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]) {
        let id = opt_string(b, "id").ok_or_else(|| bad("a buildpack has no id".to_string()))?;
        let api = opt_string(b, "api");
        api::check_buildpack_api(&id, api.as_deref())?;
        md.buildpacks.push(Buildpack { id, api: api.unwrap_or_default() });
    }
    for p in raw.get("processes").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]) {
        let kind = opt_string(p, "type").ok_or_else(|| bad("a process has no type".to_string()))?;
        let command = match p.get("command") {
            Some(Value::String(s)) => vec![OsString::from(s)],
            other => os_list(string_list(other, &format!("the command of process type \"{}\"", kind))?),
        };
        let args = os_list(string_list(p.get("args"), &format!("the args of process type \"{}\"", kind))?);
        let exec_env = match p.get("exec-env") {
            None => None,
            some => Some(string_list(some, &format!("the exec-env of process type \"{}\"", kind))?),
        };
        let mut proc = Process {
            kind,
            command,
            args,
            direct: true,
            buildpack_id: opt_string(p, "buildpack-id"),
            working_dir: opt_string(p, "working-dir").filter(|w| !w.is_empty()),
            exec_env,
        };
        proc.direct = match p.get("direct").and_then(Value::as_bool) {
            Some(d) => d,
            None => md.buildpack_of(&proc).map_or(true, |bp| !api::older(&bp.api, "0.9")),
        };
        md.processes.push(proc);
    }
    Ok(md)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Metadata {
        match parse_metadata(text) {
            Ok(m) => m,
            Err(ParseError::Toml(e)) => panic!("toml: {}", e),
            Err(ParseError::Failure(f)) => panic!("failure: {}", f),
        }
    }

    const BPS: &str = "[[buildpacks]]\nid = \"new\"\napi = \"0.10\"\n[[buildpacks]]\nid = \"old\"\napi = \"0.8\"\n";

    #[test]
    fn command_as_array_or_string() {
        let md = parse(&format!(
            "{}[[processes]]\ntype = \"a\"\ncommand = [\"x\", \"y\"]\nargs = [\"z\"]\nbuildpack-id = \"new\"\n[[processes]]\ntype = \"b\"\ncommand = \"echo hi\"\nbuildpack-id = \"old\"\ndirect = true\n",
            BPS
        ));
        assert_eq!(md.processes[0].command, vec!["x", "y"]);
        assert_eq!(md.processes[0].args, vec!["z"]);
        assert_eq!(md.processes[1].command, vec!["echo hi"]);
        assert!(md.processes[1].direct);
    }

    #[test]
    fn direct_defaults_by_buildpack_api() {
        let md = parse(&format!(
            "{}[[processes]]\ntype = \"n\"\ncommand = [\"x\"]\nbuildpack-id = \"new\"\n[[processes]]\ntype = \"o\"\ncommand = \"x\"\nbuildpack-id = \"old\"\n[[processes]]\ntype = \"u\"\ncommand = \"x\"\n[[processes]]\ntype = \"f\"\ncommand = [\"x\"]\nbuildpack-id = \"new\"\ndirect = false\n",
            BPS
        ));
        let direct: Vec<bool> = md.processes.iter().map(|p| p.direct).collect();
        assert_eq!(direct, vec![true, false, true, false]);
    }

    #[test]
    fn working_dir_and_exec_env() {
        let md = parse("[[processes]]\ntype = \"a\"\ncommand = [\"x\"]\nworking-dir = \"\"\n[[processes]]\ntype = \"b\"\ncommand = [\"x\"]\nworking-dir = \"/w\"\nexec-env = [\"test\"]\n");
        assert_eq!(md.processes[0].working_dir, None);
        assert_eq!(md.processes[0].exec_env, None);
        assert_eq!(md.processes[1].working_dir.as_deref(), Some("/w"));
        assert_eq!(md.processes[1].exec_env, Some(vec!["test".to_string()]));
    }

    #[test]
    fn errors() {
        let code = |t: &str| match parse_metadata(t) {
            Err(ParseError::Failure(f)) => f.code,
            Err(ParseError::Toml(_)) => -1,
            Ok(_) => 0,
        };
        assert_eq!(code("[[buildpacks]]\nid = \"x\"\napi = \"0.6\"\n"), 12);
        assert_eq!(code("[[buildpacks]]\nid = \"x\"\n"), 12);
        assert_eq!(code("[[buildpacks]]\napi = \"0.10\"\n"), 82);
        assert_eq!(code("[[processes]]\ncommand = [\"x\"]\n"), 82);
        assert_eq!(code("[[processes]]\ntype = \"a\"\ncommand = [1]\n"), 82);
        assert_eq!(code("[[processes]]\ntype = \"a\"\ncommand = [\"x\"]\nargs = \"y\"\n"), 82);
        assert_eq!(code("this is = = not toml"), -1);
        assert_eq!(code(""), 0);
    }
}
