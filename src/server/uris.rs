//! File paths to `file:` URIs and back (percent-encoded as editors send them).

use std::path::{Path, PathBuf};

use lsp_types::Uri;

/// The file a `file:` URI names.
pub fn path_of(uri: &Uri) -> Option<PathBuf> {
    url::Url::parse(uri.as_str()).ok()?.to_file_path().ok()
}

/// The `file:` URI of an absolute path.
pub fn uri_of(path: &Path) -> Option<Uri> {
    url::Url::from_file_path(path).ok()?.as_str().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_with_spaces_and_unicode_go_there_and_back() {
        let path = Path::new("/tmp/a dir/é.rs");
        let uri = uri_of(path).expect("uri");
        assert_eq!(uri.as_str(), "file:///tmp/a%20dir/%C3%A9.rs");
        assert_eq!(path_of(&uri).as_deref(), Some(path));
        assert_eq!(path_of(&"https://example.com/x.rs".parse().expect("uri")), None);
    }
}
