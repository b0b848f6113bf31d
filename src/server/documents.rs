//! The editor's open documents, read over the disk: a check sees an open file as the editor holds it,
//! saved or not, and every other file as it is on disk.

use std::path::{Path, PathBuf};

use lsp_types::TextDocumentContentChangeEvent;

use super::lines::{Encoding, Lines};
use crate::workspace::Overlay;

/// The open documents, by absolute path, over the disk.
#[derive(Default)]
pub struct Documents {
    open: Overlay,
}

impl Documents {
    /// Documents over a disk whose every change the server is told of (a file watcher runs): disk
    /// stamps are kept until [`Documents::disk_changed`].
    pub fn watched() -> Self {
        Documents {
            open: Overlay::default().remembering_stamps(),
        }
    }

    /// Files changed on disk (`None`: which is unknown).
    pub fn disk_changed(&self, paths: Option<&[PathBuf]>) {
        self.open.forget_stamps(paths);
    }

    /// The editor opened a document with this text.
    pub fn open(&mut self, path: PathBuf, text: String) {
        self.open.set(path, text);
    }

    /// The editor changed an open document: each change replaces a range, or the whole text when it
    /// has none. A change to a document not open is ignored (the client broke the protocol).
    pub fn change(&mut self, path: &Path, changes: Vec<TextDocumentContentChangeEvent>, encoding: Encoding) {
        let Some(text) = self.open.get_mut(path) else { return };
        for change in changes {
            match change.range {
                None => *text = change.text,
                Some(range) => {
                    let lines = Lines::new(text, encoding);
                    let (start, end) = (lines.offset(range.start), lines.offset(range.end));
                    text.replace_range(start..end.max(start), &change.text);
                }
            }
        }
    }

    /// The editor closed a document: from now on it is read from disk.
    pub fn close(&mut self, path: &Path) {
        self.open.remove(path);
    }

    /// A file's text: the open document's, else the disk's.
    pub fn read_text(&self, path: &Path) -> std::io::Result<String> {
        match self.open.get(path) {
            Some(text) => Ok(text.to_owned()),
            None => std::fs::read_to_string(path),
        }
    }

    /// The files as a check reads them.
    pub fn tree(&self) -> &Overlay {
        &self.open
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workspace::FileTree;
    use lsp_types::{Position, Range};

    #[test]
    fn changes_apply_in_order_and_unopened_files_come_from_disk() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (open, closed) = (dir.path().join("a.rs"), dir.path().join("b.rs"));
        std::fs::write(&open, "on disk").expect("write");
        std::fs::write(&closed, "struct B;").expect("write");
        let mut documents = Documents::default();
        documents.open(open.clone(), "struct A;\n".into());
        let edit = |line, from, to, text: &str| TextDocumentContentChangeEvent {
            range: Some(Range::new(Position::new(line, from), Position::new(line, to))),
            range_length: None,
            text: text.into(),
        };
        documents.change(
            &open,
            vec![edit(0, 7, 8, "Bé"), edit(0, 10, 10, " // x")],
            Encoding::Utf16,
        );
        assert_eq!(
            documents.tree().read(&open).expect("read"),
            "struct Bé; // x\n".as_bytes()
        );
        assert_eq!(documents.tree().read(&closed).expect("read"), b"struct B;");
        documents.close(&open);
        assert_eq!(documents.tree().read(&open).expect("read"), b"on disk");
    }
}
