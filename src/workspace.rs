//! Which files to check and which crates they belong to.
//!
//! Walks the named paths honouring `.gitignore` and skipping `target/` and hidden folders, applies the
//! configuration's excludes (never to a path named on the command line), and reads each `Cargo.toml`
//! for its crate name and target roots, so the Rust frontend can follow `mod` declarations from them.

use crate::built_in::BuiltIn;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use globset::GlobSet;
use rayon::prelude::*;

/// Why the workspace could not be read.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum WorkspaceError {
    /// A path named on the command line does not exist or cannot be opened.
    #[error("cannot check `{path}`: {source}")]
    #[diagnostic(code(ssot_check::path), help("name an existing file or folder"))]
    BadPath {
        /// The path as given.
        path: String,
        /// What the file system said.
        source: std::io::Error,
    },
}

/// A problem with one file or folder that does not stop the scan; it becomes a finding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScanProblem {
    /// The file or folder, relative to the report base.
    pub path: String,
    /// What went wrong.
    pub message: String,
    /// [`BuiltIn::ManifestError`] or [`BuiltIn::IoError`].
    pub kind: BuiltIn,
}

/// One source file to analyze.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceFile {
    /// Absolute, normalized path.
    pub abs: PathBuf,
    /// Path as reported: relative to the report base, with `/` separators.
    pub display: String,
    /// The named path this file was found under.
    pub root: PathBuf,
    /// Index into [`Workspace::crates`] of the crate whose folder holds the file.
    pub krate: Option<usize>,
}

/// A compilation target's root file (`src/lib.rs`, `src/main.rs`, `tests/api.rs`, ...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetRoot {
    /// Absolute path of the root file.
    pub file: PathBuf,
    /// The crate name the target compiles to (`-` replaced by `_`).
    pub crate_name: String,
    /// A test, bench or example target (counted only by rules that include test code).
    pub test: bool,
}

/// A Cargo package found in or around the scanned paths.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrateInfo {
    /// The library crate's name (`-` replaced by `_`).
    pub name: String,
    /// The package's `version`, when the manifest states one.
    pub version: Option<String>,
    /// How messages name the crate: its name, or `name@version` when the tree holds several versions of
    /// it (`syn@1`, `syn@2`), which are several crates that paths alone cannot tell apart.
    pub label: String,
    /// The folder holding `Cargo.toml`.
    pub dir: PathBuf,
    /// Target roots, library first: the order in which they claim modules.
    pub targets: Vec<TargetRoot>,
    /// The `[features]` table: each feature and what it turns on.
    pub features: std::collections::BTreeMap<String, Vec<String>>,
    /// The names its code gives its dependencies (every dependency table's keys, `-` as `_`).
    pub dependencies: Vec<String>,
    /// The package's name, `-` as `_`.
    pub package: String,
    /// The packages its dependencies are (`package = ..` of a renamed one, else the key; `-` as `_`);
    /// `None` for one inherited from the workspace (`workspace = true`), which the manifest does not
    /// name.
    pub dependency_packages: Vec<Option<String>>,
}

/// What the scan found.
#[derive(Clone, Debug, Default)]
pub struct Workspace {
    /// Files to analyze, sorted by display path.
    pub files: Vec<SourceFile>,
    /// Packages, sorted by folder.
    pub crates: Vec<CrateInfo>,
    /// Unreadable folders and broken manifests.
    pub problems: Vec<ScanProblem>,
}

/// Paths the configuration leaves out of a scan, relative to the folder of the configuration.
#[derive(Clone, Debug)]
pub struct Excludes {
    /// The folder the patterns are relative to.
    pub base: PathBuf,
    /// The patterns.
    pub globs: GlobSet,
}

impl Excludes {
    /// Whether the configuration leaves `path` out.
    pub fn matches(&self, path: &Path) -> bool {
        match path.strip_prefix(&self.base) {
            Ok(relative) if !relative.as_os_str().is_empty() => self.globs.is_match(relative),
            _ => false,
        }
    }
}

/// What a file is to the scan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileRole {
    /// Source to analyze (`.rs`, `.py`).
    Source,
    /// A package manifest (`Cargo.toml`).
    Manifest,
    /// A Python project's configuration (`pyproject.toml`, `setup.cfg`): it decides module paths, so a
    /// commit's tree must hold it too; the walk leaves it to the Python frontend to read.
    PythonProject,
}

/// Whether the scan leaves out a file or folder by its name: build output (`target`) and hidden ones.
pub fn skips_name(name: &str) -> bool {
    name == "target" || (name.starts_with('.') && name != "." && name != "..")
}

/// What the file at `path` (`/`-separated, relative to where the scan starts) is to the scan; `None` for
/// what it does not read, in a folder it skips included. Git trees are read through this too, so
/// `history` sees the files the scan would.
pub fn role_of(path: &str) -> Option<FileRole> {
    let mut parts = path.split('/');
    let name = parts.next_back()?;
    if skips_name(name) || parts.any(skips_name) {
        return None;
    }
    if name.ends_with(".rs") || name.ends_with(".py") {
        Some(FileRole::Source)
    } else if name == "Cargo.toml" {
        Some(FileRole::Manifest)
    } else if name == "pyproject.toml" || name == "setup.cfg" {
        Some(FileRole::PythonProject)
    } else {
        None
    }
}

/// Walks `paths` (relative to `base`) and gathers files, packages and problems.
pub fn scan(base: &Path, paths: &[PathBuf], excludes: &[Excludes]) -> Result<Workspace, WorkspaceError> {
    let mut problems = Vec::new();
    let mut files: BTreeSet<(PathBuf, PathBuf)> = BTreeSet::new();
    let mut manifests: BTreeSet<PathBuf> = BTreeSet::new();
    let walking = crate::timings::phase("scan: walk");
    for path in paths {
        let joined = base.join(path);
        let root = std::fs::canonicalize(&joined).map_err(|source| WorkspaceError::BadPath {
            path: path.display().to_string(),
            source,
        })?;
        // A path named on the command line is always checked, even where the configuration excludes it.
        let excludes: Vec<&Excludes> = excludes.iter().filter(|e| !e.matches(&root)).collect();
        if let Some(manifest) = enclosing_manifest(&root) {
            manifests.insert(manifest);
        }
        // Walked in parallel, like ripgrep; the sets put what the threads found in order.
        let found = std::sync::Mutex::new((Vec::new(), Vec::new(), Vec::new()));
        ignore::WalkBuilder::new(&root)
            .require_git(false)
            .filter_entry(|entry| entry.depth() == 0 || !skips_name(&entry.file_name().to_string_lossy()))
            .threads(rayon::current_num_threads())
            .build_parallel()
            .run(|| {
                Box::new(|entry| {
                    let lock = || found.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    let entry = match entry {
                        Ok(entry) => entry,
                        Err(error) => {
                            lock().2.push(ScanProblem {
                                path: error_path(&error).map(|p| display_path(base, &p)).unwrap_or_default(),
                                message: error.to_string(),
                                kind: BuiltIn::IoError,
                            });
                            return ignore::WalkState::Continue;
                        }
                    };
                    let entry_path = entry.path();
                    if entry.depth() > 0 && excludes.iter().any(|e| e.matches(entry_path)) {
                        return ignore::WalkState::Skip;
                    }
                    if entry.file_type().is_some_and(|t| t.is_file()) {
                        match role_of(&entry.file_name().to_string_lossy()) {
                            Some(FileRole::Source) => lock().0.push(entry.into_path()),
                            Some(FileRole::Manifest) => lock().1.push(entry.into_path()),
                            Some(FileRole::PythonProject) => {}
                            None => {}
                        }
                    }
                    ignore::WalkState::Continue
                })
            });
        let (rust, cargo, mut trouble) = found.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
        files.extend(rust.into_iter().map(|path| (path, root.clone())));
        manifests.extend(cargo);
        trouble.sort_by(|a, b| (&a.path, &a.message).cmp(&(&b.path, &b.message)));
        problems.extend(trouble);
    }
    drop(walking);
    let _assembling = crate::timings::phase("scan: manifests");
    Ok(assemble(
        base,
        files.into_iter().collect(),
        manifests.into_iter().collect(),
        &Disk,
        problems,
    ))
}

/// Builds the workspace from the files found (each with the named path it was found under) and the
/// manifests, reading manifests and target folders through `tree`.
pub fn assemble(
    base: &Path,
    files: Vec<(PathBuf, PathBuf)>,
    manifests: Vec<PathBuf>,
    tree: &dyn FileTree,
    problems: Vec<ScanProblem>,
) -> Workspace {
    let canonical_base = std::fs::canonicalize(base).unwrap_or_else(|_| base.to_path_buf());
    let mut workspace = Workspace {
        problems,
        ..Workspace::default()
    };
    let read: Vec<_> = manifests
        .par_iter()
        .map(|manifest| read_manifest(manifest, tree))
        .collect();
    for (manifest, result) in manifests.iter().zip(read) {
        match result {
            Ok(Some(info)) => workspace.crates.push(info),
            Ok(None) => {}
            Err(message) => workspace.problems.push(ScanProblem {
                path: display_path(base, manifest),
                message,
                kind: BuiltIn::ManifestError,
            }),
        }
    }
    workspace.crates.sort_by(|a, b| a.dir.cmp(&b.dir));
    label_versions(&mut workspace.crates);
    let crate_dirs: std::collections::HashMap<&Path, usize> = workspace
        .crates
        .iter()
        .enumerate()
        .map(|(i, c)| (c.dir.as_path(), i))
        .collect();
    workspace.files = files
        .into_iter()
        .map(|(abs, root)| SourceFile {
            display: relative_display(&canonical_base, &abs),
            krate: owning_crate(&crate_dirs, &abs),
            abs,
            root,
        })
        .collect();
    workspace.files.sort_by(|a, b| a.display.cmp(&b.display));
    workspace.files.dedup_by(|a, b| a.abs == b.abs);
    workspace
}

/// The names code gives a manifest's dependencies: the keys of `[dependencies]`, `[dev-dependencies]`,
/// `[build-dependencies]` and their `[target.'cfg(..)'.*]` forms (a renamed dependency's key is the name).
fn dependency_names(manifest: &toml::Table) -> Vec<String> {
    let mut names: Vec<String> = dependency_entries(manifest)
        .map(|(key, _)| key.replace('-', "_"))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The packages a manifest's dependencies are (see [`CrateInfo::dependency_packages`]).
fn dependency_packages(manifest: &toml::Table) -> Vec<Option<String>> {
    let mut packages: Vec<Option<String>> = dependency_entries(manifest)
        .map(|(key, entry)| {
            let field = |name: &str| entry.as_table().and_then(|t| t.get(name));
            match (field("package").and_then(|p| p.as_str()), field("workspace")) {
                (Some(package), _) => Some(package.replace('-', "_")),
                (None, Some(_)) => None,
                (None, None) => Some(key.replace('-', "_")),
            }
        })
        .collect();
    packages.sort();
    packages.dedup();
    packages
}

/// Every entry of `[dependencies]`, `[dev-dependencies]`, `[build-dependencies]` and their
/// `[target.'cfg(..)'.*]` forms, as key and value.
fn dependency_entries(manifest: &toml::Table) -> impl Iterator<Item = (&String, &toml::Value)> {
    const TABLES: [&str; 3] = ["dependencies", "dev-dependencies", "build-dependencies"];
    let targets = manifest
        .get("target")
        .and_then(|t| t.as_table())
        .into_iter()
        .flat_map(|t| t.values());
    std::iter::once(manifest)
        .chain(targets.filter_map(|t| t.as_table()))
        .flat_map(|scope| TABLES.iter().filter_map(|name| scope.get(*name)?.as_table()))
        .flat_map(|table| table.iter())
}

/// Names apart the crates that share a name (several versions of one package in a vendored tree): by
/// the part of the version cargo treats as compatible (`syn@1`, `rand@0.8`), else the whole version,
/// else the folder.
fn label_versions(crates: &mut [CrateInfo]) {
    let mut by_name: std::collections::HashMap<String, Vec<usize>> = std::collections::HashMap::new();
    for (i, krate) in crates.iter().enumerate() {
        by_name.entry(krate.name.clone()).or_default().push(i);
    }
    for (name, same) in by_name.into_iter().filter(|(_, same)| same.len() > 1) {
        let folder = |i: usize| crates[i].dir.file_name().map(|f| f.to_string_lossy().into_owned());
        let ways: [&dyn Fn(usize) -> Option<String>; 3] = [
            &|i| crates[i].version.as_deref().map(compatible_part),
            &|i| crates[i].version.clone(),
            &folder,
        ];
        let labels = ways.iter().find_map(|way| {
            let labels: Vec<Option<String>> = same.iter().map(|&i| way(i)).collect();
            let distinct: BTreeSet<&Option<String>> = labels.iter().collect();
            (labels.iter().all(Option::is_some) && distinct.len() == labels.len()).then_some(labels)
        });
        let labels = labels.unwrap_or_else(|| (1..=same.len()).map(|n| Some(n.to_string())).collect());
        for (&i, label) in same.iter().zip(labels) {
            crates[i].label = format!("{name}@{}", label.unwrap_or_default());
        }
    }
}

/// The leading part of a version that cargo keeps compatible: the major, or `0.minor` below 1.
fn compatible_part(version: &str) -> String {
    let mut parts = version.split(['.', '-', '+']);
    match (parts.next(), parts.next()) {
        (Some("0"), Some(minor)) => format!("0.{minor}"),
        (Some(major), _) => major.to_owned(),
        (None, _) => version.to_owned(),
    }
}

/// Where file contents and folder listings come from: the disk, or a commit's tree.
pub trait FileTree: Sync {
    /// Whether the file exists.
    fn is_file(&self, path: &Path) -> bool;
    /// The file's bytes.
    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>>;
    /// An identity of the file's content (a git blob id) under which parsed facts may be reused.
    fn content_id(&self, path: &Path) -> Option<String>;
    /// Cargo's auto-discovered targets in a folder: `x.rs` and `x/main.rs`, sorted.
    fn target_files(&self, folder: &Path) -> Vec<PathBuf>;
    /// A cheap identity of the file's content now (without reading it), which changes whenever the
    /// content does; `None` when there is none to be sure of (the file is then read and hashed).
    fn stamp(&self, _path: &Path) -> Option<u64> {
        None
    }
}

/// Files held in memory over the disk (an editor's unsaved buffers): a file held is read as held,
/// every other one from disk.
#[derive(Default)]
pub struct Overlay {
    texts: std::collections::HashMap<PathBuf, String>,
    /// Disk stamps taken before, kept until [`Overlay::forget_stamps`] says the files changed: for a
    /// process told of every change by a file watcher, which then need not ask the disk each time.
    remembered: Option<std::sync::Mutex<std::collections::HashMap<PathBuf, u64>>>,
}

impl Overlay {
    /// This overlay, keeping disk stamps until told the files changed (see [`Overlay::forget_stamps`]).
    pub fn remembering_stamps(mut self) -> Self {
        self.remembered = Some(Default::default());
        self
    }

    /// The files on disk changed (`None`: which is unknown): their stamps are taken again.
    pub fn forget_stamps(&self, paths: Option<&[PathBuf]>) {
        let Some(remembered) = &self.remembered else { return };
        let mut remembered = remembered.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match paths {
            Some(paths) => paths.iter().for_each(|path| {
                remembered.remove(path);
            }),
            None => remembered.clear(),
        }
    }

    /// Holds `text` as the content of `path` (absolute).
    pub fn set(&mut self, path: PathBuf, text: String) {
        self.texts.insert(path, text);
    }

    /// Stops holding `path`: it is read from disk again.
    pub fn remove(&mut self, path: &Path) {
        self.texts.remove(path);
    }

    /// The text held for `path`.
    pub fn get(&self, path: &Path) -> Option<&str> {
        self.texts.get(path).map(String::as_str)
    }

    /// The text held for `path`, to change in place.
    pub fn get_mut(&mut self, path: &Path) -> Option<&mut String> {
        self.texts.get_mut(path)
    }
}

impl FileTree for Overlay {
    fn is_file(&self, path: &Path) -> bool {
        self.texts.contains_key(path) || Disk.is_file(path)
    }

    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        match self.texts.get(path) {
            Some(text) => Ok(text.as_bytes().to_vec()),
            None => Disk.read(path),
        }
    }

    fn content_id(&self, _: &Path) -> Option<String> {
        None
    }

    fn target_files(&self, folder: &Path) -> Vec<PathBuf> {
        Disk.target_files(folder)
    }

    /// A text held is stamped with its hash (odd, apart from the disk's even stamps).
    fn stamp(&self, path: &Path) -> Option<u64> {
        if let Some(text) = self.texts.get(path) {
            return Some(xxhash_rust::xxh3::xxh3_64(text.as_bytes()) | 1);
        }
        let Some(remembered) = &self.remembered else {
            return Disk.stamp(path);
        };
        let lock = || remembered.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(stamp) = lock().get(path) {
            return Some(*stamp);
        }
        // A file too recently written has no stamp to remember: it is asked again next time.
        let stamp = Disk.stamp(path)?;
        lock().insert(path.to_path_buf(), stamp);
        Some(stamp)
    }
}

/// How recently a file must not have changed for its modification time and length to identify its
/// content: a write within the file system's timestamp granularity of another could keep both.
const SETTLED: std::time::Duration = std::time::Duration::from_secs(2);

/// A file's stamp on disk: its modification time and length, once it has settled (see [`SETTLED`]).
/// Always even: odd stamps are left to other sources (an editor's buffer).
pub fn disk_stamp(path: &Path) -> Option<u64> {
    let metadata = std::fs::metadata(path).ok()?;
    let modified = metadata.modified().ok()?;
    let age = std::time::SystemTime::now().duration_since(modified).ok()?;
    if age < SETTLED {
        return None;
    }
    let since_epoch = modified.duration_since(std::time::UNIX_EPOCH).ok()?;
    let mut identity = [0u8; 24];
    identity[..16].copy_from_slice(&since_epoch.as_nanos().to_le_bytes());
    identity[16..].copy_from_slice(&metadata.len().to_le_bytes());
    Some(xxhash_rust::xxh3::xxh3_64(&identity) & !1)
}

/// The file system.
pub struct Disk;

impl FileTree for Disk {
    fn is_file(&self, path: &Path) -> bool {
        path.is_file()
    }

    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        std::fs::read(path)
    }

    fn content_id(&self, _: &Path) -> Option<String> {
        None
    }

    fn stamp(&self, path: &Path) -> Option<u64> {
        disk_stamp(path)
    }

    fn target_files(&self, folder: &Path) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(folder) else {
            return Vec::new();
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter_map(|p| {
                if p.extension().is_some_and(|e| e == "rs") && p.is_file() {
                    Some(p)
                } else if p.join("main.rs").is_file() {
                    Some(p.join("main.rs"))
                } else {
                    None
                }
            })
            .collect();
        files.sort();
        files
    }
}

fn error_path(error: &ignore::Error) -> Option<PathBuf> {
    match error {
        ignore::Error::WithPath { path, .. } => Some(path.clone()),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => error_path(err),
        ignore::Error::Loop { child, .. } => Some(child.clone()),
        _ => None,
    }
}

/// `path` relative to `base` with `/` separators, or absolute when it lies elsewhere.
pub fn display_path(base: &Path, path: &Path) -> String {
    relative_display(
        &std::fs::canonicalize(base).unwrap_or_else(|_| base.to_path_buf()),
        path,
    )
}

/// [`display_path`] against a base that is already canonical (no file-system call per path).
fn relative_display(base: &Path, path: &Path) -> String {
    let relative = path.strip_prefix(base).unwrap_or(path);
    let parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if relative.is_absolute() {
        relative.display().to_string()
    } else {
        parts.join("/")
    }
}

/// The nearest `Cargo.toml` with a `[package]` at or above `path`.
fn enclosing_manifest(path: &Path) -> Option<PathBuf> {
    path.ancestors().map(|dir| dir.join("Cargo.toml")).find(|manifest| {
        manifest.is_file()
            && std::fs::read_to_string(manifest)
                .ok()
                .and_then(|text| text.parse::<toml::Table>().ok())
                .is_some_and(|table| table.contains_key("package"))
    })
}

/// The nearest folder above `file` that holds a crate: a lookup per ancestor, not a scan of every crate.
fn owning_crate(crate_dirs: &std::collections::HashMap<&Path, usize>, file: &Path) -> Option<usize> {
    file.ancestors().skip(1).find_map(|dir| crate_dirs.get(dir).copied())
}

/// Reads a manifest; `Ok(None)` for a virtual workspace manifest.
fn read_manifest(manifest: &Path, tree: &dyn FileTree) -> Result<Option<CrateInfo>, String> {
    let bytes = tree
        .read(manifest)
        .map_err(|e| format!("cannot read Cargo.toml: {e}"))?;
    let text = String::from_utf8(bytes).map_err(|_| "Cargo.toml is not valid UTF-8".to_owned())?;
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| format!("invalid Cargo.toml: {}", e.message()))?;
    let Some(package) = table.get("package").and_then(|p| p.as_table()) else {
        return Ok(None);
    };
    let package_name = package
        .get("name")
        .and_then(|n| n.as_str())
        .ok_or_else(|| "Cargo.toml has a [package] without a `name`".to_owned())?;
    let dir = manifest.parent().map(Path::to_path_buf).unwrap_or_default();
    let lib_name = table
        .get("lib")
        .and_then(|lib| lib.get("name"))
        .and_then(|n| n.as_str())
        .unwrap_or(package_name)
        .replace('-', "_");
    let features = table
        .get("features")
        .and_then(|f| f.as_table())
        .map(|features| {
            features
                .iter()
                .map(|(name, enables)| {
                    let enables = enables.as_array().into_iter().flatten();
                    (
                        name.clone(),
                        enables.filter_map(|e| e.as_str().map(str::to_owned)).collect(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let mut targets = Vec::new();
    let mut add = |file: PathBuf, crate_name: String, test: bool| {
        if tree.is_file(&file) && !targets.iter().any(|t: &TargetRoot| t.file == file) {
            targets.push(TargetRoot { file, crate_name, test });
        }
    };
    let lib_path = table
        .get("lib")
        .and_then(|lib| lib.get("path"))
        .and_then(|p| p.as_str())
        .unwrap_or("src/lib.rs");
    add(dir.join(lib_path), lib_name.clone(), false);
    for bin in table.get("bin").and_then(|b| b.as_array()).into_iter().flatten() {
        if let Some(path) = bin.get("path").and_then(|p| p.as_str()) {
            let name = bin.get("name").and_then(|n| n.as_str()).unwrap_or(package_name);
            add(dir.join(path), name.replace('-', "_"), false);
        }
    }
    add(dir.join("src/main.rs"), lib_name.clone(), false);
    for (folder, test) in [
        ("src/bin", false),
        // Examples show how to use a crate; like tests and benches they are not its code.
        ("examples", true),
        ("tests", true),
        ("benches", true),
    ] {
        for file in tree.target_files(&dir.join(folder)) {
            let name = file
                .file_stem()
                .filter(|stem| *stem != "main")
                .or_else(|| file.parent().and_then(|p| p.file_name()))
                .map(|n| n.to_string_lossy().replace('-', "_"))
                .unwrap_or_default();
            add(file, name, test);
        }
    }
    add(dir.join("build.rs"), "build_script_build".to_owned(), false);
    let version = package.get("version").and_then(|v| v.as_str()).map(str::to_owned);
    Ok(Some(CrateInfo {
        dependencies: dependency_names(&table),
        dependency_packages: dependency_packages(&table),
        package: package_name.replace('-', "_"),
        label: lib_name.clone(),
        name: lib_name,
        version,
        dir,
        targets,
        features,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependencies_are_named_by_key_and_known_by_package() {
        let manifest: toml::Table = toml::from_str(
            "[dependencies]\nserde-json = \"1\"\nold = { package = \"new-name\", version = \"1\" }\n\
             shared = { workspace = true }\n[target.'cfg(unix)'.dev-dependencies]\nlibc = \"0.2\"\n",
        )
        .expect("parses");
        assert_eq!(dependency_names(&manifest), ["libc", "old", "serde_json", "shared"]);
        assert_eq!(
            dependency_packages(&manifest),
            [
                None,
                Some("libc".to_owned()),
                Some("new_name".to_owned()),
                Some("serde_json".to_owned())
            ]
        );
    }

    #[test]
    fn roles_skip_build_output_and_hidden_folders_as_the_walk_does() {
        assert_eq!(role_of("src/lib.rs"), Some(FileRole::Source));
        assert_eq!(role_of("gateway/Cargo.toml"), Some(FileRole::Manifest));
        assert_eq!(role_of("app/pyproject.toml"), Some(FileRole::PythonProject));
        assert_eq!(role_of("app/pkg/router.py"), Some(FileRole::Source));
        assert_eq!(role_of("target/debug/build/x.rs"), None);
        assert_eq!(role_of("crate/target/gen.rs"), None);
        assert_eq!(role_of(".github/scripts/x.rs"), None);
        assert_eq!(role_of("src/.hidden.rs"), None);
        assert_eq!(role_of("README.md"), None);
    }

    fn write(dir: &Path, path: &str, text: &str) {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }

    #[test]
    fn finds_crates_targets_and_honours_gitignore() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "Cargo.toml", "[package]\nname = \"my-app\"\n");
        write(dir.path(), "src/lib.rs", "");
        write(dir.path(), "src/main.rs", "");
        write(dir.path(), "tests/api.rs", "");
        write(dir.path(), "target/debug/build.rs", "");
        write(dir.path(), "generated/out.rs", "");
        write(dir.path(), ".gitignore", "generated/\n");
        let ws = scan(dir.path(), &[PathBuf::from(".")], &[]).expect("scan");
        let files: Vec<&str> = ws.files.iter().map(|f| f.display.as_str()).collect();
        assert_eq!(files, vec!["src/lib.rs", "src/main.rs", "tests/api.rs"]);
        assert_eq!(ws.crates.len(), 1);
        assert_eq!(ws.crates[0].name, "my_app");
        let targets: Vec<(&str, bool)> = ws.crates[0]
            .targets
            .iter()
            .map(|t| (t.crate_name.as_str(), t.test))
            .collect();
        assert_eq!(targets, vec![("my_app", false), ("my_app", false), ("api", true)]);
    }

    #[test]
    fn a_broken_manifest_is_a_problem_not_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "Cargo.toml", "[package\n");
        write(dir.path(), "a.rs", "");
        let ws = scan(dir.path(), &[PathBuf::from(".")], &[]).expect("scan");
        assert_eq!(ws.files.len(), 1);
        assert_eq!(ws.problems.len(), 1);
        assert_eq!(ws.problems[0].kind, BuiltIn::ManifestError);
    }

    #[test]
    fn a_missing_path_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let error = scan(dir.path(), &[PathBuf::from("nope")], &[]).expect_err("missing");
        assert!(error.to_string().contains("cannot check `nope`"));
    }

    #[test]
    fn excludes_apply_below_the_config_but_never_to_a_named_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "src/a.rs", "");
        write(dir.path(), "fixtures/case/b.rs", "");
        let base = std::fs::canonicalize(dir.path()).expect("canonical");
        let mut globs = globset::GlobSetBuilder::new();
        globs.add(globset::Glob::new("fixtures/**").expect("glob"));
        let excludes = Excludes {
            base: base.clone(),
            globs: globs.build().expect("set"),
        };
        let all = scan(&base, &[PathBuf::from(".")], std::slice::from_ref(&excludes)).expect("scan");
        assert_eq!(
            all.files.iter().map(|f| f.display.as_str()).collect::<Vec<_>>(),
            vec!["src/a.rs"]
        );
        let named = scan(
            &base,
            &[PathBuf::from("fixtures/case")],
            std::slice::from_ref(&excludes),
        )
        .expect("scan");
        assert_eq!(
            named.files.iter().map(|f| f.display.as_str()).collect::<Vec<_>>(),
            vec!["fixtures/case/b.rs"]
        );
    }
}
