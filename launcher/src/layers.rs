//! Walking an app image's layers the way the reference launcher does: buildpack dirs in metadata order (missing
//! ones skipped), layer dirs and files in byte order of their names. Replaces `buildpackDirs`, `layerDirs`,
//! `filesIn` and `layerScripts` of `src/launch/env.ts`.

use crate::error::{Failure, Result};
use crate::metadata::Buildpack;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

/// A buildpack ID as a directory name: `/` becomes `_`.
pub fn escape_id(id: &str) -> String {
    id.replace('/', "_")
}

/// The entries of `dir` sorted by name, each with whether it is a directory (symlinks are not); none when `dir`
/// is missing or not a directory.
fn entries(dir: &Path) -> Result<Vec<(PathBuf, bool)>> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == ErrorKind::NotFound || e.raw_os_error() == Some(libc::ENOTDIR) => return Ok(Vec::new()),
        Err(e) => return Err(Failure::launch(format!("failed to list files in dir '{}': {}", dir.display(), e))),
    };
    let mut out = Vec::new();
    for e in rd {
        let e = e.map_err(|e| Failure::launch(format!("failed to list files in dir '{}': {}", dir.display(), e)))?;
        let is_dir = e.file_type().map(|t| t.is_dir()).unwrap_or(false);
        out.push((e.path(), is_dir));
    }
    out.sort();
    Ok(out)
}

/// The directories of the buildpacks that have one under `<layers>`, in metadata order.
pub fn buildpack_dirs(layers_dir: &Path, buildpacks: &[Buildpack]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for bp in buildpacks {
        let dir = layers_dir.join(escape_id(&bp.id));
        match std::fs::metadata(&dir) {
            Ok(_) => out.push(dir),
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(Failure::launch(format!("find buildpack directory: {}", e))),
        }
    }
    Ok(out)
}

/// The layer directories of a buildpack directory, in name order.
pub fn layer_dirs(bp_dir: &Path) -> Result<Vec<PathBuf>> {
    Ok(entries(bp_dir)?.into_iter().filter(|(_, d)| *d).map(|(p, _)| p).collect())
}

/// The entries of a directory that are not directories (files, symlinks), in name order.
pub fn files_in(dir: &Path) -> Result<Vec<PathBuf>> {
    Ok(entries(dir)?.into_iter().filter(|(_, d)| !*d).map(|(p, _)| p).collect())
}

/// For each buildpack dir and each of its layers, the files of `<layer>/<sub>/` then of `<layer>/<sub>/<type>/`
/// (the latter only for a process type): the reference's order for `exec.d` and `profile.d`.
///
/// Example: `layer_scripts(Path::new("/layers"), &md.buildpacks, "exec.d", "web")?`
pub fn layer_scripts(layers_dir: &Path, buildpacks: &[Buildpack], sub: &str, kind: &str) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for bp_dir in buildpack_dirs(layers_dir, buildpacks)? {
        for layer in layer_dirs(&bp_dir)? {
            out.extend(files_in(&layer.join(sub))?);
            if !kind.is_empty() {
                out.extend(files_in(&layer.join(sub).join(kind))?);
            }
        }
    }
    Ok(out)
}
