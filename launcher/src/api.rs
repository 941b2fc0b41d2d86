//! The API gates: which Platform and Buildpack API versions this launcher runs, and the comparisons the
//! version-dependent rules use. Replaces `platformApi`, `checkBuildpackApi` and `compareApi` of
//! `src/cli/platform-api.ts` for the launcher. `test/launcher.test.ts` compares these lists with `src/version.ts`.

use crate::error::{Failure, Result, EXIT_BUILDPACK_API, EXIT_PLATFORM_API};
use std::cmp::Ordering;

/// Platform API versions the launcher accepts, oldest first.
pub const PLATFORM_APIS: &[&str] = &["0.7", "0.8", "0.9", "0.10", "0.11", "0.12", "0.13", "0.14", "0.15"];
/// Buildpack API versions the launcher accepts, oldest first.
pub const BUILDPACK_APIS: &[&str] = &["0.7", "0.8", "0.9", "0.10", "0.11", "0.12"];

fn parts(v: &str) -> (u64, u64) {
    let mut it = v.splitn(2, '.').map(|p| p.parse::<u64>().unwrap_or(0));
    (it.next().unwrap_or(0), it.next().unwrap_or(0))
}

/// Compares two `X.Y` versions numerically: `compare("0.9", "0.10")` is `Less`.
pub fn compare(a: &str, b: &str) -> Ordering {
    parts(a).cmp(&parts(b))
}

/// Whether `v` is older than `than`: `older("0.8", "0.9")` is true.
pub fn older(v: &str, than: &str) -> bool {
    compare(v, than) == Ordering::Less
}

/// The Platform API in force: `CNB_PLATFORM_API`, or the newest supported when unset or empty; exit 11 for an
/// unsupported one.
pub fn platform_api(value: Option<&str>) -> Result<String> {
    match value {
        None | Some("") => Ok(PLATFORM_APIS[PLATFORM_APIS.len() - 1].to_string()),
        Some(v) if PLATFORM_APIS.contains(&v) => Ok(v.to_string()),
        Some(v) => Err(Failure::with_code(
            EXIT_PLATFORM_API,
            format!("platform API version \"{}\" is incompatible with the lifecycle (supported: {})", v, PLATFORM_APIS.join(", ")),
        )),
    }
}

/// Exit 12 unless the buildpack's API is supported (a missing `api` is not).
pub fn check_buildpack_api(id: &str, api: Option<&str>) -> Result<()> {
    match api {
        Some(a) if BUILDPACK_APIS.contains(&a) => Ok(()),
        _ => Err(Failure::with_code(
            EXIT_BUILDPACK_API,
            format!(
                "buildpack API version \"{}\" of {} is incompatible with the lifecycle (supported: {})",
                api.unwrap_or(""),
                id,
                BUILDPACK_APIS.join(", ")
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_numerically() {
        assert_eq!(compare("0.9", "0.10"), Ordering::Less);
        assert_eq!(compare("0.12", "0.12"), Ordering::Equal);
        assert_eq!(compare("1.0", "0.15"), Ordering::Greater);
        assert!(older("0.8", "0.9"));
        assert!(!older("0.9", "0.9"));
    }

    #[test]
    fn platform_gate() {
        assert_eq!(platform_api(None).unwrap(), "0.15");
        assert_eq!(platform_api(Some("")).unwrap(), "0.15");
        assert_eq!(platform_api(Some("0.7")).unwrap(), "0.7");
        let e = platform_api(Some("0.6")).unwrap_err();
        assert_eq!(e.code, 11);
        assert!(e.message.contains("platform API version \"0.6\""));
    }

    #[test]
    fn buildpack_gate() {
        assert!(check_buildpack_api("a", Some("0.7")).is_ok());
        assert!(check_buildpack_api("a", Some("0.12")).is_ok());
        assert_eq!(check_buildpack_api("a", Some("0.6")).unwrap_err().code, 12);
        assert_eq!(check_buildpack_api("a", None).unwrap_err().code, 12);
    }
}
