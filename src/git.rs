//! Reading a git repository's history without touching its working tree: commits from `git log`, trees
//! from `git ls-tree`, file contents from one long-lived `git cat-file --batch`. The `git` command is the
//! interface: it is on every machine that has a repository, and it reads every repository format.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Mutex, PoisonError};

use crate::workspace::FileTree;

/// Why git could not be read.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum GitError {
    /// `git` could not be run.
    #[error("cannot run git: {0}")]
    #[diagnostic(code(ssot_check::git), help("install git, or run from inside a git repository"))]
    Spawn(std::io::Error),
    /// A git command failed.
    #[error("`git {command}` failed: {message}")]
    #[diagnostic(code(ssot_check::git))]
    Failed {
        /// The command's arguments.
        command: String,
        /// What git said.
        message: String,
    },
    /// git printed something unexpected.
    #[error("unexpected output from git: {0}")]
    #[diagnostic(code(ssot_check::git))]
    Output(String),
}

/// One commit.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Commit {
    /// The full id.
    pub id: String,
    /// The abbreviated id.
    pub short: String,
    /// The committer date, ISO 8601.
    pub date: String,
    /// The first line of the message.
    pub subject: String,
}

/// A repository, by its top-level folder.
#[derive(Clone, Debug)]
pub struct Repo {
    /// The top-level folder (canonical).
    pub root: PathBuf,
}

impl Repo {
    /// The repository holding `dir`.
    pub fn discover(dir: &Path) -> Result<Self, GitError> {
        let top = git(dir, &["rev-parse", "--show-toplevel"])?;
        let root = PathBuf::from(top.trim());
        Ok(Repo {
            root: std::fs::canonicalize(&root).unwrap_or(root),
        })
    }

    fn git(&self, args: &[&str]) -> Result<String, GitError> {
        git(&self.root, args)
    }

    /// First-parent commits of HEAD, oldest first, optionally since a date or only the last `n`.
    pub fn first_parent_log(&self, since: Option<&str>, last: Option<usize>) -> Result<Vec<Commit>, GitError> {
        let mut args = vec![
            "log".to_owned(),
            "--first-parent".to_owned(),
            "--format=%H%x00%h%x00%cI%x00%s".to_owned(),
        ];
        if let Some(since) = since {
            args.push(format!("--since={since}"));
        }
        if let Some(last) = last {
            args.push(format!("-n{last}"));
        }
        args.push("HEAD".to_owned());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut commits = self
            .git(&args)?
            .lines()
            .map(parse_commit)
            .collect::<Result<Vec<_>, _>>()?;
        commits.reverse();
        Ok(commits)
    }

    /// One commit, by any revision name.
    pub fn commit(&self, revision: &str) -> Result<Commit, GitError> {
        let out = self.git(&["log", "-1", "--format=%H%x00%h%x00%cI%x00%s", revision, "--"])?;
        parse_commit(out.trim_end())
    }

    /// The merge base of two revisions.
    pub fn merge_base(&self, a: &str, b: &str) -> Result<String, GitError> {
        Ok(self.git(&["merge-base", a, b])?.trim().to_owned())
    }

    /// Every file of a commit: path (relative to the root) -> blob id.
    pub fn tree(&self, commit: &str) -> Result<Vec<(String, String)>, GitError> {
        let out = self.git(&["ls-tree", "-r", "-z", "--full-tree", commit])?;
        let mut files = Vec::new();
        for entry in out.split('\0').filter(|e| !e.is_empty()) {
            let (meta, path) = entry
                .split_once('\t')
                .ok_or_else(|| GitError::Output(entry.to_owned()))?;
            let mut parts = meta.split(' ');
            let (_mode, kind, oid) = (parts.next(), parts.next(), parts.next());
            if kind == Some("blob")
                && let Some(oid) = oid
            {
                files.push((path.to_owned(), oid.to_owned()));
            }
        }
        Ok(files)
    }

    /// A reader of blob contents.
    pub fn blobs(&self) -> Result<BlobReader, GitError> {
        let mut child = Command::new("git")
            .args(["cat-file", "--batch"])
            .current_dir(&self.root)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(GitError::Spawn)?;
        let stdin = child
            .stdin
            .take()
            .ok_or_else(|| GitError::Output("no stdin for cat-file".into()))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| GitError::Output("no stdout for cat-file".into()))?;
        Ok(BlobReader {
            child,
            stdin,
            stdout: BufReader::new(stdout),
        })
    }
}

fn parse_commit(line: &str) -> Result<Commit, GitError> {
    let mut parts = line.splitn(4, '\0');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(id), Some(short), Some(date), subject) if !id.is_empty() => Ok(Commit {
            id: id.to_owned(),
            short: short.to_owned(),
            date: date.to_owned(),
            subject: subject.unwrap_or_default().to_owned(),
        }),
        _ => Err(GitError::Output(line.to_owned())),
    }
}

fn git(dir: &Path, args: &[&str]) -> Result<String, GitError> {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(GitError::Spawn)?;
    if !output.status.success() {
        return Err(GitError::Failed {
            command: args.join(" "),
            message: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    String::from_utf8(output.stdout).map_err(|e| GitError::Output(e.to_string()))
}

/// `git cat-file --batch`: one request, one answer, in order.
pub struct BlobReader {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl BlobReader {
    /// The contents of a blob.
    pub fn read(&mut self, oid: &str) -> std::io::Result<Vec<u8>> {
        writeln!(self.stdin, "{oid}")?;
        self.stdin.flush()?;
        let mut header = String::new();
        self.stdout.read_line(&mut header)?;
        let fields: Vec<&str> = header.split_whitespace().collect();
        let size: usize = match fields.as_slice() {
            [_, "blob", size] => size.parse().map_err(std::io::Error::other)?,
            _ => {
                return Err(std::io::Error::other(format!(
                    "cannot read blob {oid}: {}",
                    header.trim()
                )));
            }
        };
        let mut content = vec![0; size + 1];
        self.stdout.read_exact(&mut content)?;
        content.pop();
        Ok(content)
    }
}

impl Drop for BlobReader {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A commit's files as a [`FileTree`]: paths under the repository root, contents from git objects.
pub struct CommitTree<'r> {
    blobs: HashMap<PathBuf, String>,
    reader: &'r Mutex<BlobReader>,
}

impl<'r> CommitTree<'r> {
    /// The tree of files `(absolute path, blob id)` read through `reader`.
    pub fn new(blobs: HashMap<PathBuf, String>, reader: &'r Mutex<BlobReader>) -> Self {
        CommitTree { blobs, reader }
    }
}

impl FileTree for CommitTree<'_> {
    fn is_file(&self, path: &Path) -> bool {
        self.blobs.contains_key(path)
    }

    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        let oid = self
            .blobs
            .get(path)
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))?;
        self.reader.lock().unwrap_or_else(PoisonError::into_inner).read(oid)
    }

    fn content_id(&self, path: &Path) -> Option<String> {
        self.blobs.get(path).cloned()
    }

    fn target_files(&self, folder: &Path) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = self
            .blobs
            .keys()
            .filter(|p| {
                let direct = p.parent() == Some(folder) && p.extension().is_some_and(|e| e == "rs");
                let main =
                    p.file_name().is_some_and(|n| n == "main.rs") && p.parent().and_then(Path::parent) == Some(folder);
                direct || main
            })
            .cloned()
            .collect();
        files.sort();
        files
    }
}
