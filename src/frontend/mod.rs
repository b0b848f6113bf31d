//! Source languages to facts. Each frontend turns the files it handles into [`FileFacts`]; rules only
//! ever read facts, so supporting a new language is one new module here and one line in [`FRONTENDS`].

pub mod rust;

use crate::facts::FileFacts;
use crate::workspace::{SourceFile, Workspace};

/// A source language.
pub trait Frontend: Sync {
    /// Whether this frontend reads the file.
    fn handles(&self, file: &SourceFile) -> bool;

    /// Extracts facts from `files` (all of which this frontend handles), one result per file, in order.
    ///
    /// Never fails: a file that cannot be read or parsed carries a [`crate::facts::FileProblem`].
    fn analyze(&self, workspace: &Workspace, files: &[SourceFile]) -> Vec<FileFacts>;
}

/// Every frontend, tried in order; the first that handles a file gets it.
pub const FRONTENDS: &[&dyn Frontend] = &[&rust::RustFrontend];

/// Runs every frontend over the workspace's files and returns the facts, sorted by path.
pub fn analyze(workspace: &Workspace) -> Vec<FileFacts> {
    let mut facts = Vec::with_capacity(workspace.files.len());
    for frontend in FRONTENDS {
        let files: Vec<SourceFile> = workspace
            .files
            .iter()
            .filter(|f| frontend.handles(f))
            .cloned()
            .collect();
        facts.extend(frontend.analyze(workspace, &files));
    }
    facts.sort_by(|a, b| a.path.cmp(&b.path));
    facts
}
