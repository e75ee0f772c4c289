//! Finds the files to tail: regular files matching an include glob and no
//! exclude glob.
//!
//! Globs follow `globset` syntax with `literal_separator` on, so `*`, `?`
//! and `[...]` never match `/` and only `**` crosses directories. Each
//! include pattern is walked from its longest directory prefix without glob
//! characters, and only as deep as the pattern can match, so
//! `/var/log/*.log` lists one directory and not the whole tree.
//!
//! Compressed files (`.gz`, `.zip`, `.bz2`, `.xz`, `.zst`), usually rotated
//! logs, are skipped: their lines were read before they were compressed.
//!
//! [`find_by_identity`] looks up known files by device and inode in given
//! directories, to find a file that was renamed out of the include globs.
//!
//! Discovery never opens files. It stats each candidate, following
//! symbolic links, but it does not descend into a symbolic link to a
//! directory under `**`, so a link cycle cannot make a walk endless.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use super::file::FileId;
use crate::config::GlobPattern;

/// File extensions of compressed files, which are never tailed.
const COMPRESSED_EXTENSIONS: &[&str] = &["gz", "zip", "bz2", "xz", "zst"];

/// Deepest directory level a `**` walk descends to, below its base.
const MAX_RECURSIVE_DEPTH: usize = 32;

/// The compiled include and exclude globs.
#[derive(Debug)]
pub struct Discovery {
    include: GlobSet,
    exclude: GlobSet,
    roots: Vec<WalkRoot>,
}

/// Start directory and depth limit of the walk for one include pattern.
#[derive(Debug, PartialEq, Eq)]
struct WalkRoot {
    dir: PathBuf,
    /// Directory levels below `dir` that the pattern can reach; `None` for
    /// a pattern with `**`.
    max_depth: Option<usize>,
}

/// A directory that could not be listed during a scan.
#[derive(Debug)]
pub struct ScanError {
    pub path: PathBuf,
    pub error: io::Error,
}

impl Discovery {
    /// Compiles the globs. They were checked when the configuration was read,
    /// so an error here means a pattern the configuration check missed.
    pub fn new(include: &[GlobPattern], exclude: &[GlobPattern]) -> anyhow::Result<Discovery> {
        let roots = include
            .iter()
            .map(|pattern| walk_root(pattern.as_str()))
            .collect();
        Ok(Discovery {
            include: build_set(include)?,
            exclude: build_set(exclude)?,
            roots,
        })
    }

    /// Lists the directories the include patterns start from, each with
    /// whether the pattern reaches into its subdirectories.
    pub fn watch_dirs(&self) -> Vec<(PathBuf, bool)> {
        self.roots
            .iter()
            .map(|root| (root.dir.clone(), root.max_depth != Some(0)))
            .collect()
    }

    /// Returns true if `path` is one to tail.
    pub fn is_match(&self, path: &Path) -> bool {
        self.include.is_match(path) && !self.exclude.is_match(path) && !is_compressed(path)
    }

    /// Lists the matching regular files, in path order. Directories that
    /// cannot be listed are returned in `errors`, except missing ones: a
    /// log directory may not exist yet.
    pub fn scan(&self, errors: &mut Vec<ScanError>) -> BTreeSet<PathBuf> {
        let mut found = BTreeSet::new();
        for root in &self.roots {
            self.walk(&root.dir, 0, root.max_depth, &mut found, errors);
        }
        found
    }

    fn walk(
        &self,
        dir: &Path,
        depth: usize,
        max_depth: Option<usize>,
        found: &mut BTreeSet<PathBuf>,
        errors: &mut Vec<ScanError>,
    ) {
        // An empty base means a relative pattern such as `*.log`, whose
        // matches must read `a.log` rather than `./a.log`.
        let listed = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        let entries = match fs::read_dir(listed) {
            Ok(entries) => entries,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return,
            Err(error) => {
                errors.push(ScanError {
                    path: listed.to_path_buf(),
                    error,
                });
                return;
            }
        };

        for entry in entries.flatten() {
            let path = dir.join(entry.file_name());
            let Ok(file_type) = entry.file_type() else {
                continue;
            };

            if file_type.is_dir() {
                let deeper = max_depth.is_none_or(|max| depth < max);
                let depth_allowed = depth < MAX_RECURSIVE_DEPTH;
                if deeper && depth_allowed {
                    self.walk(&path, depth + 1, max_depth, found, errors);
                }
                continue;
            }

            // A symbolic link counts as the file it points to; links to
            // directories are not followed.
            let is_file = file_type.is_file()
                || (file_type.is_symlink() && fs::metadata(&path).is_ok_and(|m| m.is_file()));
            if is_file && self.is_match(&path) {
                found.insert(path);
            }
        }
    }
}

/// Looks for the files `ids` by identity among the regular files directly
/// inside `dirs`, whatever their names, and returns the path of each one
/// found. Compressed files are skipped, because compressing writes a new
/// file. Directories that cannot be listed are skipped: a file that is not
/// found is only a file that cannot be finished.
pub fn find_by_identity(
    dirs: &BTreeSet<PathBuf>,
    ids: &HashSet<FileId>,
) -> HashMap<FileId, PathBuf> {
    let mut found = HashMap::new();
    for dir in dirs {
        let Ok(entries) = fs::read_dir(dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if is_compressed(&path) {
                continue;
            }
            let Ok(metadata) = fs::metadata(&path) else {
                continue;
            };
            let id = FileId::of(&metadata);
            if metadata.is_file() && ids.contains(&id) {
                found.entry(id).or_insert(path);
            }
        }
        if found.len() == ids.len() {
            break;
        }
    }
    found
}

fn build_set(patterns: &[GlobPattern]) -> anyhow::Result<GlobSet> {
    let mut builder = GlobSetBuilder::new();
    for pattern in patterns {
        let glob = GlobBuilder::new(pattern.as_str())
            .literal_separator(true)
            .build()
            .map_err(|err| anyhow::anyhow!("invalid glob pattern {pattern:?}: {err}"))?;
        builder.add(glob);
    }
    builder
        .build()
        .map_err(|err| anyhow::anyhow!("failed to compile glob patterns: {err}"))
}

/// Splits a pattern into the directory prefix that has no glob characters
/// and the number of levels below it that the rest can match.
fn walk_root(pattern: &str) -> WalkRoot {
    let path = Path::new(pattern);
    let mut dir = PathBuf::new();
    let mut rest = Vec::new();
    for component in path.components() {
        let text = component.as_os_str().to_string_lossy();
        let literal = !text.contains(['*', '?', '[', '{', '\\']);
        if rest.is_empty() && literal {
            dir.push(component);
        } else {
            rest.push(text.into_owned());
        }
    }

    // The last literal component is the file name itself when the pattern
    // has no glob characters at all.
    if rest.is_empty() {
        let file_name = dir
            .file_name()
            .map(|name| name.to_string_lossy().into_owned());
        if let Some(file_name) = file_name
            && !matches!(dir.components().next_back(), Some(Component::RootDir))
        {
            dir.pop();
            rest.push(file_name);
        }
    }

    let max_depth = if rest.iter().any(|part| part.contains("**")) {
        None
    } else {
        Some(rest.len().saturating_sub(1))
    };
    WalkRoot { dir, max_depth }
}

fn is_compressed(path: &Path) -> bool {
    path.extension()
        .and_then(|extension| extension.to_str())
        .is_some_and(|extension| {
            COMPRESSED_EXTENSIONS
                .iter()
                .any(|compressed| extension.eq_ignore_ascii_case(compressed))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patterns(list: &[&str]) -> Vec<GlobPattern> {
        list.iter()
            .map(|text| GlobPattern::try_from(text.to_string()).unwrap())
            .collect()
    }

    fn touch(path: &Path) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, "x\n").unwrap();
    }

    #[test]
    fn walk_root_cases() {
        let cases: &[(&str, &str, Option<usize>)] = &[
            ("/var/log/*.log", "/var/log", Some(0)),
            ("/var/log/*/app.log", "/var/log", Some(1)),
            ("/var/log/**/*.log", "/var/log", None),
            ("/var/log/app.log", "/var/log", Some(0)),
            ("*.log", "", Some(0)),
            ("logs/{a,b}.log", "logs", Some(0)),
        ];
        for &(pattern, dir, depth) in cases {
            let root = walk_root(pattern);
            assert_eq!(root.dir, Path::new(dir), "pattern {pattern}");
            assert_eq!(root.max_depth, depth, "pattern {pattern}");
        }
    }

    #[test]
    fn star_does_not_cross_directories() {
        let temp = tempfile::tempdir().unwrap();
        let base = temp.path();
        touch(&base.join("a.log"));
        touch(&base.join("sub/b.log"));
        let include = format!("{}/*.log", base.display());
        let discovery = Discovery::new(&patterns(&[&include]), &[]).unwrap();

        let found = discovery.scan(&mut Vec::new());

        assert_eq!(found, BTreeSet::from([base.join("a.log")]));
    }

    #[test]
    fn double_star_crosses_directories() {
        let temp = tempfile::tempdir().unwrap();
        let base = temp.path();
        touch(&base.join("a.log"));
        touch(&base.join("sub/deeper/b.log"));
        touch(&base.join("sub/c.txt"));
        let include = format!("{}/**/*.log", base.display());
        let discovery = Discovery::new(&patterns(&[&include]), &[]).unwrap();

        let found = discovery.scan(&mut Vec::new());

        let expected = BTreeSet::from([base.join("a.log"), base.join("sub/deeper/b.log")]);
        assert_eq!(found, expected);
    }

    #[test]
    fn exclude_and_compressed_skipped() {
        let temp = tempfile::tempdir().unwrap();
        let base = temp.path();
        for name in [
            "app.log",
            "app.log.1",
            "app.log.2.gz",
            "app.log.3.zst",
            "debug.log",
        ] {
            touch(&base.join(name));
        }
        let include = format!("{}/*.log*", base.display());
        let exclude = format!("{}/debug.*", base.display());
        let discovery = Discovery::new(&patterns(&[&include]), &patterns(&[&exclude])).unwrap();

        let found = discovery.scan(&mut Vec::new());

        let expected = BTreeSet::from([base.join("app.log"), base.join("app.log.1")]);
        assert_eq!(found, expected);
    }

    #[test]
    fn missing_directory_is_not_an_error() {
        let temp = tempfile::tempdir().unwrap();
        let include = format!("{}/not-yet/*.log", temp.path().display());
        let discovery = Discovery::new(&patterns(&[&include]), &[]).unwrap();
        let mut errors = Vec::new();

        let found = discovery.scan(&mut errors);

        assert!(found.is_empty());
        assert!(errors.is_empty());
    }

    #[test]
    fn symlinked_file_found() {
        let temp = tempfile::tempdir().unwrap();
        let base = temp.path();
        touch(&base.join("real/target.txt"));
        fs::create_dir_all(base.join("links")).unwrap();
        std::os::unix::fs::symlink(base.join("real/target.txt"), base.join("links/app.log"))
            .unwrap();
        let include = format!("{}/links/*.log", base.display());
        let discovery = Discovery::new(&patterns(&[&include]), &[]).unwrap();

        let found = discovery.scan(&mut Vec::new());

        assert_eq!(found, BTreeSet::from([base.join("links/app.log")]));
    }

    #[test]
    fn find_by_identity_ignores_names() {
        let temp = tempfile::tempdir().unwrap();
        let base = temp.path();
        touch(&base.join("app.log.1"));
        touch(&base.join("other.txt"));
        touch(&base.join("app.log.2.gz"));
        let rotated_id = FileId::of(&fs::metadata(base.join("app.log.1")).unwrap());
        let compressed_id = FileId::of(&fs::metadata(base.join("app.log.2.gz")).unwrap());
        let missing_id = FileId {
            dev: rotated_id.dev,
            inode: u64::MAX,
        };
        let dirs = BTreeSet::from([base.to_path_buf(), base.join("missing")]);
        let ids = HashSet::from([rotated_id, compressed_id, missing_id]);

        let found = find_by_identity(&dirs, &ids);

        assert_eq!(found, HashMap::from([(rotated_id, base.join("app.log.1"))]));
    }
}
