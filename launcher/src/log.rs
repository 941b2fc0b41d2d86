//! The launcher's few log lines, at the level `CNB_LOG_LEVEL` names: debug to stdout, warnings as `Warning: …`
//! and errors as `ERROR: …` to stderr. Replaces `Logger`/`loggerFromEnv` of `src/cli/log.ts` for the launcher.

use std::io::Write;

/// Log levels in increasing order.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
}

/// A leveled logger writing to the process's stdout and stderr.
pub struct Log {
    pub level: Level,
}

impl Log {
    /// The logger for `CNB_LOG_LEVEL` (info when unset; an unknown level is reported and ignored).
    ///
    /// Example: `let log = Log::from_env(std::env::var("CNB_LOG_LEVEL").ok().as_deref());`
    pub fn from_env(value: Option<&str>) -> Log {
        let mut log = Log { level: Level::Info };
        match value.map(|v| v.to_ascii_lowercase()).as_deref() {
            None | Some("") | Some("info") => {}
            Some("debug") => log.level = Level::Debug,
            Some("warn") => log.level = Level::Warn,
            Some("error") => log.level = Level::Error,
            Some(other) => log.warn(&format!("invalid log level \"{}\": expected one of debug, info, warn, error", other)),
        }
        log
    }

    pub fn debug(&self, msg: &str) {
        if self.level <= Level::Debug {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{}", msg);
            let _ = out.flush();
        }
    }

    pub fn warn(&self, msg: &str) {
        if self.level <= Level::Warn {
            let _ = writeln!(std::io::stderr(), "Warning: {}", msg);
        }
    }

    pub fn error(&self, msg: &str) {
        let _ = writeln!(std::io::stderr(), "ERROR: {}", msg);
    }
}
