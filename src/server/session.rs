//! What the server knows between messages: the rules, the scanned workspace, the open documents, the
//! last run's findings and what the client was last told. A change re-checks the whole workspace from
//! the warm snapshot (a finding can join files: a second handler added here makes a duplicate whose
//! other member is there), and the client is told about every file whose diagnostics changed, cleared
//! ones included.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use lsp_types::Diagnostic;

use super::diagnostics::{self, ByFile};
use super::documents::Documents;
use super::lines::Encoding;
use crate::baseline::Baseline;
use crate::check::{self, RunOptions};
use crate::config::{self, Config};
use crate::finding::Finding;
use crate::frontend::ParseCache;
use crate::rules::RuleMeta;
use crate::workspace::{self, FileTree, Workspace};

/// A finding's diagnostics, with the stamps of the files they were placed in.
struct Converted {
    fingerprint: String,
    finding: Finding,
    stamps: Vec<Option<u64>>,
    diagnostics: Vec<(PathBuf, Diagnostic)>,
}

/// How the server was started.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// `--rules`: the rule files or folders (relative to the workspace root); discovered when empty.
    pub rules: Vec<PathBuf>,
    /// `--baseline`: accepted findings are not shown.
    pub baseline: Option<PathBuf>,
    /// `--cache-dir`, else the default cache.
    pub cache_dir: Option<PathBuf>,
}

/// The server's state.
pub struct Session {
    /// The workspace root (canonical): reported paths are relative to it.
    pub root: PathBuf,
    /// How positions count.
    pub encoding: Encoding,
    /// The open documents.
    pub documents: Documents,
    settings: Settings,
    config: Option<Config>,
    /// Diagnostics of the rule files when they do not load (the last good rules stay in use).
    config_problems: ByFile,
    workspace: Option<Workspace>,
    cache: ParseCache,
    options: RunOptions,
    pool: rayon::ThreadPool,
    findings: Vec<Finding>,
    /// The last check's findings as diagnostics (see [`Session::diagnostics`]).
    converted: Vec<Converted>,
    published: ByFile,
    /// Something changed since the last check.
    pub stale: bool,
}

impl Session {
    /// A session over `root`, its rules loaded (a mistake in them is a diagnostic, not a failure);
    /// checks run on `pool`.
    pub fn new(root: &Path, settings: Settings, encoding: Encoding, pool: rayon::ThreadPool) -> Self {
        let root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
        let cache_dir = settings
            .cache_dir
            .clone()
            .or_else(crate::blob_folder::BlobFolder::default_dir);
        let mut session = Session {
            root,
            encoding,
            documents: Documents::default(),
            settings,
            config: None,
            config_problems: ByFile::new(),
            workspace: None,
            cache: ParseCache::with_disk(cache_dir.as_deref().and_then(crate::blob_folder::BlobFolder::open))
                .keeping_warm(),
            options: RunOptions::default(),
            pool,
            findings: Vec::new(),
            converted: Vec::new(),
            published: ByFile::new(),
            stale: true,
        };
        session.load_rules();
        session
    }

    /// Loads the rule files again. When they do not load, their mistakes become diagnostics on them
    /// and the rules loaded before stay in use.
    pub fn load_rules(&mut self) {
        let paths: Vec<PathBuf> = match self.settings.rules.is_empty() {
            false => self.settings.rules.iter().map(|p| self.root.join(p)).collect(),
            true => config::discover(&self.root).into_iter().collect(),
        };
        let fallback = paths
            .first()
            .cloned()
            .unwrap_or_else(|| self.root.join(config::CONFIG_FILE));
        let loaded = match paths.is_empty() {
            true => Err(config::ConfigError::NotFound(self.root.display().to_string())),
            false => config::load(&paths, &self.root),
        };
        match loaded {
            Ok(config) => {
                // Diagnostics name their rule's file: converted again under the new rules.
                self.converted.clear();
                self.options.build = config.build.clone();
                self.config = Some(config);
                self.config_problems.clear();
                // Other excludes may change which files are scanned.
                self.workspace = None;
            }
            Err(error) => {
                self.config_problems = diagnostics::of_config_error(&error, &self.root, &fallback, self.encoding);
            }
        }
        self.stale = true;
    }

    /// Files changed on disk (`None`: unknown files). Rule files are loaded again; a manifest, or a
    /// source file added or removed, makes the workspace scanned again.
    pub fn disk_changed(&mut self, paths: Option<&[PathBuf]>) {
        self.stale = true;
        self.documents.disk_changed(paths);
        let Some(paths) = paths else {
            self.workspace = None;
            return self.load_rules();
        };
        let is_manifest = |p: &Path| p.file_name().is_some_and(|n| n == "Cargo.toml");
        if paths
            .iter()
            .any(|p| p.extension().is_some_and(|e| e == "toml") && !is_manifest(p))
        {
            self.load_rules();
        }
        let known = |p: &Path| {
            self.workspace
                .as_ref()
                .is_some_and(|w| w.files.iter().any(|f| f.abs == p))
        };
        if paths.iter().any(|p| {
            is_manifest(p) || (p.extension().is_some_and(|e| e == "rs" || e == "py") && known(p) != p.is_file())
        }) {
            self.workspace = None;
        }
    }

    /// Checks the workspace now, if anything changed; a scan that fails leaves the findings as they
    /// were and says why.
    pub fn check(&mut self) -> Result<(), String> {
        if !self.stale {
            return Ok(());
        }
        self.stale = false;
        let Some(config) = &self.config else {
            self.findings.clear();
            return Ok(());
        };
        if self.workspace.is_none() {
            let scanned = workspace::scan(&self.root, std::slice::from_ref(&self.root), &config.excludes)
                .map_err(|e| format!("cannot scan {}: {e}", self.root.display()))?;
            self.workspace = Some(scanned);
        }
        let Some(workspace) = &self.workspace else {
            return Ok(());
        };
        self.options.baseline = match &self.settings.baseline {
            Some(path) => Some(Baseline::read(&self.root.join(path)).map_err(|e| e.to_string())?),
            None => None,
        };
        let _checking = crate::timings::phase("server: check");
        let (tree, cache, options) = (self.documents.tree(), &self.cache, &self.options);
        let outcome = self
            .pool
            .install(|| check::run_scanned(workspace, tree, cache, config, options));
        self.findings = outcome.findings;
        Ok(())
    }

    /// The findings of the last check.
    pub fn findings(&self) -> &[Finding] {
        &self.findings
    }

    /// The loaded rules (none before rules first load).
    pub fn rules(&self) -> Vec<RuleMeta> {
        self.config
            .as_ref()
            .map(|c| c.rules.iter().map(|r| r.meta.clone()).collect())
            .unwrap_or_default()
    }

    /// The diagnostics every file should show now. A finding converted before, whose files are
    /// unchanged since (by their stamps), keeps its diagnostics; only the others are converted.
    pub fn diagnostics(&mut self) -> ByFile {
        let tree = self.documents.tree();
        let mut stamps: HashMap<PathBuf, Option<u64>> = HashMap::new();
        let mut stamps_of = |finding: &Finding| -> Vec<Option<u64>> {
            diagnostics::places(finding)
                .map(|(_, location)| {
                    let path = self.root.join(&location.path);
                    *stamps.entry(path).or_insert_with_key(|path| tree.stamp(path))
                })
                .collect()
        };
        let mut before: HashMap<String, Vec<Converted>> = HashMap::new();
        for converted in std::mem::take(&mut self.converted) {
            before.entry(converted.fingerprint.clone()).or_default().push(converted);
        }
        let active: Vec<&Finding> = self.findings.iter().filter(|f| f.is_active()).collect();
        let mut kept: Vec<Option<Converted>> = Vec::with_capacity(active.len());
        let mut missing: Vec<(usize, String, Vec<Option<u64>>)> = Vec::new();
        for (at, finding) in active.iter().enumerate() {
            let stamps = stamps_of(finding);
            let fingerprint = finding.fingerprint();
            let same = |c: &Converted| c.finding == **finding && c.stamps == stamps;
            let reused = match stamps.iter().all(Option::is_some) {
                true => before
                    .get_mut(&fingerprint)
                    .and_then(|list| Some(list.swap_remove(list.iter().position(same)?))),
                false => None,
            };
            if reused.is_none() {
                missing.push((at, fingerprint, stamps));
            }
            kept.push(reused);
        }
        let documents = &self.documents;
        let text = |path: &Path| documents.read_text(path).ok();
        let wanted: Vec<&Finding> = missing.iter().map(|(at, ..)| active[*at]).collect();
        let fresh = diagnostics::of_findings(&wanted, &self.rules(), &self.root, &text, self.encoding);
        for ((at, fingerprint, stamps), diagnostics) in missing.into_iter().zip(fresh) {
            kept[at] = Some(Converted {
                fingerprint,
                finding: active[at].clone(),
                stamps,
                diagnostics,
            });
        }
        self.converted = kept.into_iter().flatten().collect();
        let mut by_file = ByFile::new();
        for (path, diagnostic) in self.converted.iter().flat_map(|c| &c.diagnostics) {
            by_file.entry(path.clone()).or_default().push(diagnostic.clone());
        }
        for (path, problems) in &self.config_problems {
            by_file
                .entry(path.clone())
                .or_default()
                .extend(problems.iter().cloned());
        }
        by_file
    }

    /// The files whose diagnostics changed since the client was last told, with what they show now
    /// (empty: cleared); from now on the client is taken to show these.
    pub fn changed_diagnostics(&mut self) -> Vec<(PathBuf, Vec<Diagnostic>)> {
        let _converting = crate::timings::phase("server: diagnostics");
        let now = self.diagnostics();
        let mut changed: Vec<(PathBuf, Vec<Diagnostic>)> = now
            .iter()
            .filter(|(path, diagnostics)| self.published.get(*path) != Some(diagnostics))
            .map(|(path, diagnostics)| (path.clone(), diagnostics.clone()))
            .collect();
        changed.extend(
            self.published
                .keys()
                .filter(|path| !now.contains_key(*path))
                .map(|path| (path.clone(), Vec::new())),
        );
        changed.sort_by(|a, b| a.0.cmp(&b.0));
        self.published = now;
        changed
    }

    /// What the client was last told, by file.
    pub fn published(&self) -> &HashMap<PathBuf, Vec<Diagnostic>> {
        &self.published
    }
}
