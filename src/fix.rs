//! `--fix` and `--diff`: applying the fixes findings carry. Safe: a banned import whose replacement is
//! an item of the same name is imported from the replacement instead. Unsafe (only with
//! `--unsafe-fixes`): a removed module's `mod name;` declaration is deleted. The import rewrite works
//! on the text of the `use` statement around the finding's span (its own leaf, its rename kept; a leaf
//! in a group is taken out of the group into a `use` of its own), and refuses, saying why, whatever it
//! could get wrong: a statement with a comment it would lose, attributes it would have to copy, two
//! fixes in one statement.

use std::collections::BTreeMap;
use std::path::Path;

use crate::finding::{Finding, Fix};

/// The fixes of one file.
#[derive(Debug)]
pub struct FileFix {
    /// The file, as reported (relative to the working directory).
    pub path: String,
    /// Its text before.
    pub before: String,
    /// Its text with the fixes applied.
    pub after: String,
    /// How many findings the fixes resolve.
    pub fixes: usize,
}

/// A fix not applied, and why.
#[derive(Debug, PartialEq, Eq)]
pub struct Left {
    /// Where the finding is (`path:line`).
    pub place: String,
    /// Why its fix was not applied.
    pub reason: String,
}

/// What `--fix` would change.
#[derive(Debug, Default)]
pub struct Plan {
    /// The files that change.
    pub files: Vec<FileFix>,
    /// The fixes left out.
    pub left: Vec<Left>,
    /// Display-only fixes: shown, never applied.
    pub shown: Vec<Left>,
}

impl Plan {
    /// How many findings the applied fixes resolve.
    pub fn fixed(&self) -> usize {
        self.files.iter().map(|f| f.fixes).sum()
    }
}

/// Plans the fixes of the active findings that carry one (unsafe ones only when `unsafe_fixes`), on the
/// files on disk; `root` is what reported paths are relative to.
pub fn plan(findings: &[Finding], root: &Path, unsafe_fixes: bool) -> Plan {
    plan_with(findings, unsafe_fixes, &|path| std::fs::read_to_string(root.join(path)))
}

/// [`plan`] on texts given by `read` (a reported path to its text): the language server's open
/// buffers.
pub fn plan_with(findings: &[Finding], unsafe_fixes: bool, read: &dyn Fn(&str) -> std::io::Result<String>) -> Plan {
    let mut plan = Plan::default();
    let mut by_file: BTreeMap<&str, Vec<(&Finding, &Fix)>> = BTreeMap::new();
    for finding in findings.iter().filter(|f| f.is_active()) {
        if let (Some(fix), Some(_)) = (&finding.fix, &finding.primary.span) {
            if let Fix::KeepDefinition { keep, .. } = fix {
                plan.shown.push(Left {
                    place: left(finding, "").place,
                    reason: format!("keep {keep}; move the callers there and remove the others"),
                });
            } else if fix.is_safe() || unsafe_fixes {
                by_file.entry(&finding.primary.path).or_default().push((finding, fix));
            } else {
                plan.left.push(left(
                    finding,
                    "unsafe (it breaks what still uses the module): --unsafe-fixes applies it",
                ));
            }
        }
    }
    for (path, fixes) in by_file {
        let Ok(before) = read(path) else {
            for (finding, _) in fixes {
                plan.left.push(left(finding, "the file cannot be read"));
            }
            continue;
        };
        let findings: Vec<&Finding> = fixes.iter().map(|(finding, _)| *finding).collect();
        let (edits, refused) = edits_in(&before, &findings);
        plan.left
            .extend(refused.into_iter().map(|(finding, reason)| left(finding, reason)));
        if edits.is_empty() {
            continue;
        }
        let fixes = edits.len();
        let after = apply(&before, edits);
        plan.files.push(FileFix {
            path: path.to_owned(),
            before,
            after,
            fixes,
        });
    }
    plan
}

fn left(finding: &Finding, reason: &str) -> Left {
    let line = finding.primary.span.as_ref().map_or(0, |s| s.line);
    Left {
        place: format!("{}:{line}", finding.primary.path),
        reason: reason.to_owned(),
    }
}

/// One statement rewritten: its byte range in the file (a `use` statement from `use` to its `;`, a
/// `mod` declaration's line) and its new text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edit {
    /// The bytes replaced.
    pub range: std::ops::Range<usize>,
    /// What replaces them.
    pub text: String,
}

impl Edit {
    fn overlaps(&self, other: &Edit) -> bool {
        self.range.start < other.range.end && other.range.start < self.range.end
    }
}

/// The edits of `findings`' fixes to `text` (their file), none overlapping another, and the fixes
/// refused with why.
pub fn edits_in<'f>(text: &str, findings: &[&'f Finding]) -> (Vec<Edit>, Vec<(&'f Finding, &'static str)>) {
    let mut edits: Vec<Edit> = Vec::new();
    let mut refused = Vec::new();
    for &finding in findings {
        match edit_of(text, finding) {
            None => {}
            Some(Ok(edit)) if edits.iter().any(|e| e.overlaps(&edit)) => {
                refused.push((finding, "in the same `use` as another fix (run --fix again)"));
            }
            Some(Ok(edit)) => edits.push(edit),
            Some(Err(reason)) => refused.push((finding, reason)),
        }
    }
    (edits, refused)
}

/// `text` with `edits` (none overlapping) applied.
pub fn apply(text: &str, mut edits: Vec<Edit>) -> String {
    edits.sort_by_key(|e| std::cmp::Reverse(e.range.start));
    let mut after = text.to_owned();
    for edit in edits {
        after.replace_range(edit.range, &edit.text);
    }
    after
}

/// The edit that applies a finding's fix to `text` (the file at the finding's primary path), or why it
/// cannot be applied; `None` when the finding has no fix to apply (none, or display only).
pub fn edit_of(text: &str, finding: &Finding) -> Option<Result<Edit, &'static str>> {
    let span = finding.primary.span.as_ref()?;
    match finding.fix.as_ref()? {
        Fix::Import { replacement } => Some(import_edit(text, span.start, span.end, replacement)),
        Fix::ModuleImport { replacement, item } => {
            Some(module_import_edit(text, span.start, span.end, replacement, item))
        }
        Fix::DeleteModDeclaration => Some(mod_deletion(text, span.start, span.end)),
        Fix::KeepDefinition { .. } => None,
    }
}

/// The rewrite of a plain `use path::module;` (or `as name`) whose module is at `start..end`, and of
/// every `module::item` in the file, so that `item` is imported from `replacement` and named alone. It
/// is refused when the module names anything else in the file, when `item` is a name there already, or
/// when a use of the module is in a comment or a string (on a line with `//` or a quote before it).
fn module_import_edit(
    text: &str,
    start: usize,
    end: usize,
    replacement: &str,
    item: &str,
) -> Result<Edit, &'static str> {
    let (keyword, close) = use_statement(text, start)?;
    let statement = &text[keyword..=close];
    if statement.contains('{') || statement.contains("//") || statement.contains("/*") {
        return Err("the module is imported in a group or with a comment");
    }
    let line_start = text[..keyword].rfind('\n').map_or(0, |n| n + 1);
    if !text[line_start..keyword].trim().is_empty() || has_attributes(text, line_start) {
        return Err("the `use` statement shares its line, or has attributes or a visibility");
    }
    let binding = match rename_after(&text[end..close]) {
        Some((name, _)) => name,
        None => &text[start..end],
    };
    let mut uses = Vec::new();
    for (at, _) in text.match_indices(binding) {
        let before_ok = at == 0 || !is_ident(text.as_bytes()[at - 1]) && text.as_bytes()[at - 1] != b':';
        let after = at + binding.len();
        if !before_ok || text.as_bytes().get(after).is_some_and(|&b| is_ident(b)) || (keyword..=close).contains(&at) {
            continue;
        }
        let qualified = format!("::{item}");
        let named_end = after + qualified.len();
        if !text[after..].starts_with(&qualified) || text.as_bytes().get(named_end).is_some_and(|&b| is_ident(b)) {
            return Err("the module names more than the replaced item in this file");
        }
        let line = &text[text[..at].rfind('\n').map_or(0, |n| n + 1)..at];
        if line.contains("//") || line.contains('"') {
            return Err("a use of the module is in a comment or a string");
        }
        uses.push(at..named_end);
    }
    let already = text.match_indices(item).any(|(at, _)| {
        let free = (at == 0 || !is_ident(text.as_bytes()[at - 1]) && text.as_bytes()[at - 1] != b':')
            && !text.as_bytes().get(at + item.len()).is_some_and(|&b| is_ident(b));
        free && !(keyword..=close).contains(&at)
    });
    if already {
        return Err("the replaced item's name is a name in the file already");
    }
    let region_end = uses.last().map_or(close + 1, |last| last.end.max(close + 1));
    let mut rewritten = String::new();
    let mut at = keyword;
    rewritten.push_str(&format!("use {replacement};"));
    at = at.max(close + 1);
    for range in &uses {
        rewritten.push_str(&text[at..range.start]);
        rewritten.push_str(item);
        at = range.end;
    }
    rewritten.push_str(&text[at..region_end]);
    Ok(Edit {
        range: keyword..region_end,
        text: rewritten,
    })
}

/// The `use` statement around the byte `start`: where its `use` keyword starts and where its `;` is.
fn use_statement(text: &str, start: usize) -> Result<(usize, usize), &'static str> {
    let keyword = text
        .get(..start)
        .and_then(|head| head.rfind("use "))
        .filter(|&at| at == 0 || !is_ident(text.as_bytes()[at - 1]))
        .ok_or("not in a `use` statement")?;
    let close = start + text[start..].find(';').ok_or("the `use` statement has no end")?;
    Ok((keyword, close))
}

/// The rewrite of the `use` statement holding the leaf at `start..end` so that the leaf is imported
/// from `replacement`.
fn import_edit(text: &str, start: usize, end: usize, replacement: &str) -> Result<Edit, &'static str> {
    let (keyword, close) = use_statement(text, start)?;
    let statement = &text[keyword..=close];
    if statement.contains("//") || statement.contains("/*") {
        return Err("the `use` statement has a comment the fix would lose");
    }
    let line_start = text[..keyword].rfind('\n').map_or(0, |n| n + 1);
    let before_use = &text[line_start..keyword];
    if !before_use.trim().is_empty() && !before_use.trim().starts_with("pub") {
        return Err("the `use` statement shares its line with other code");
    }
    if has_attributes(text, line_start) {
        return Err("the `use` statement has attributes the fix would have to copy");
    }
    let indent: String = before_use.chars().take_while(|c| c.is_whitespace()).collect();
    let visibility = before_use.trim();
    let tree_start = keyword + "use ".len();
    // The entry of the import: back over its own `a::b::` prefix (and `leaf as ` when the span is the
    // rename), forward over ` as name` when the span is the leaf.
    let entry_start = start
        - text[tree_start..start]
            .chars()
            .rev()
            .take_while(|&c| c.is_alphanumeric() || c == '_' || c == ':' || c.is_whitespace())
            .map(char::len_utf8)
            .sum::<usize>();
    let entry_end = end + rename_after(&text[end..close]).map_or(0, |(_, length)| length);
    let alias = text[entry_start..entry_end]
        .split_once(" as ")
        .map(|(_, name)| name.trim());
    let imported = match alias {
        Some(name) => format!("{replacement} as {name}"),
        None => replacement.to_owned(),
    };
    let new_use = |prefix: &str| format!("{prefix}use {imported};");
    let depth =
        text[tree_start..start].matches('{').count() as i64 - text[tree_start..start].matches('}').count() as i64;
    if depth == 0 {
        return Ok(Edit {
            range: keyword..close + 1,
            text: new_use(""),
        });
    }
    // The leaf is in a group: take its entry (and a comma) out.
    let after_entry = &text[entry_end..close];
    let trailing_comma = after_entry.len() - after_entry.trim_start().len();
    let (cut_start, cut_end) = if after_entry.trim_start().starts_with(',') {
        let comma = entry_end + trailing_comma + 1;
        let space = text[comma..close].len() - text[comma..close].trim_start().len();
        (entry_start, comma + space)
    } else {
        // The last entry: take the comma before it instead.
        let head = text[tree_start..entry_start].trim_end();
        let cut = if head.ends_with(',') {
            tree_start + head.len() - 1
        } else {
            entry_start
        };
        (cut, entry_end)
    };
    let mut kept = String::new();
    kept.push_str(&text[keyword..cut_start]);
    kept.push_str(&text[cut_end..=close]);
    let emptied = kept.replace(char::is_whitespace, "").contains("{}");
    let separate = format!("\n{indent}{}", new_use(&visibility_prefix(visibility)));
    let text = if emptied && depth == 1 {
        new_use("")
    } else if emptied {
        return Err("taking the import out would leave a nested group empty");
    } else {
        kept + &separate
    };
    Ok(Edit {
        range: keyword..close + 1,
        text,
    })
}

/// The deletion of the `mod name;` declaration whose name is at `start..end`: its whole line.
fn mod_deletion(text: &str, start: usize, end: usize) -> Result<Edit, &'static str> {
    let line_start = text[..start].rfind('\n').map_or(0, |n| n + 1);
    let line_end = text[end..].find('\n').map_or(text.len(), |n| end + n + 1);
    let line = text[line_start..line_end].trim();
    let declaration = line.trim_end_matches(';').trim_end();
    let words: Vec<&str> = declaration.split_whitespace().collect();
    let plain = matches!(words.as_slice(), [.., "mod", _]) && line.ends_with(';') && words.len() <= 3;
    if !plain || line.contains("//") || line.contains("/*") {
        return Err("the `mod` declaration shares its line with other code or a comment");
    }
    if has_attributes(text, line_start) {
        return Err("the `mod` declaration has attributes (a `#[cfg]` or `#[path]` to look at first)");
    }
    Ok(Edit {
        range: line_start..line_end,
        text: String::new(),
    })
}

/// Whether the line before the one starting at `line_start` is an attribute (`#[cfg(..)]`, `#[path]`).
fn has_attributes(text: &str, line_start: usize) -> bool {
    let previous_line = text[..line_start].trim_end().rsplit('\n').next().unwrap_or("");
    previous_line.trim_start().starts_with("#[")
}

/// `pub ` or `pub(crate) ` for the statement split off, as the original had it.
fn visibility_prefix(visibility: &str) -> String {
    match visibility {
        "" => String::new(),
        v => format!("{v} "),
    }
}

/// ` as name` right after a leaf: the name and the length of the rename text.
fn rename_after(rest: &str) -> Option<(&str, usize)> {
    let trimmed = rest.trim_start();
    let after_as = trimmed.strip_prefix("as")?;
    if !after_as.starts_with(char::is_whitespace) {
        return None;
    }
    let name_text = after_as.trim_start();
    let name_length = name_text.bytes().take_while(|&b| is_ident(b)).count();
    let name = &name_text[..name_length];
    (!name.is_empty()).then(|| (name, rest.len() - name_text.len() + name_length))
}

fn is_ident(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

/// A unified diff of one file's fix, as `git diff` prints it.
pub fn unified_diff(file: &FileFix) -> String {
    similar::TextDiff::from_lines(&file.before, &file.after)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{}", file.path), &format!("b/{}", file.path))
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The text with the leaf `create`, found where `context` starts, imported from `replacement`.
    fn fixed(text: &str, context: &str, replacement: &str) -> Result<String, &'static str> {
        let start = text.find(context).expect("context");
        let edit = import_edit(text, start, start + "create".len(), replacement)?;
        let mut out = text.to_owned();
        out.replace_range(edit.range, &edit.text);
        Ok(out)
    }

    const NEW: &str = "crate::ws::manager::create";

    #[test]
    fn a_plain_import_is_imported_from_the_replacement() {
        assert_eq!(
            fixed("use crate::old::create;\nfn f() {}\n", "create;", NEW),
            Ok("use crate::ws::manager::create;\nfn f() {}\n".into())
        );
        assert_eq!(
            fixed("    use crate::old::create as make;\n", "create as", NEW),
            Ok("    use crate::ws::manager::create as make;\n".into())
        );
    }

    #[test]
    fn a_leaf_in_a_group_leaves_the_group_with_its_rename() {
        assert_eq!(
            fixed("use crate::old::{Factory, create as make};\n", "create as", NEW),
            Ok("use crate::old::{Factory};\nuse crate::ws::manager::create as make;\n".into())
        );
        assert_eq!(
            fixed("pub use crate::old::{create, Factory};\n", "create,", NEW),
            Ok("pub use crate::old::{Factory};\npub use crate::ws::manager::create;\n".into())
        );
        assert_eq!(
            fixed("use crate::old::{create};\n", "create}", NEW),
            Ok("use crate::ws::manager::create;\n".into())
        );
    }

    #[test]
    fn a_span_on_the_rename_keeps_it() {
        let text = "use crate::old::{F, create as make};\n";
        let start = text.find("make").expect("rename");
        let edit = import_edit(text, start, start + "make".len(), NEW).expect("fixes");
        assert_eq!(
            edit.text,
            "use crate::old::{F};\nuse crate::ws::manager::create as make;"
        );
    }

    #[test]
    fn a_mod_declaration_is_deleted_with_its_line_unless_it_has_more() {
        let delete = |text: &str| {
            let start = text.find("old").expect("name");
            mod_deletion(text, start, start + 3).map(|edit| {
                let mut out = text.to_owned();
                out.replace_range(edit.range, &edit.text);
                out
            })
        };
        assert_eq!(
            delete("pub mod a;\npub mod old;\nmod b;\n"),
            Ok("pub mod a;\nmod b;\n".into())
        );
        assert!(delete("mod old; // kept for now\n").is_err());
        assert!(delete("#[cfg(unix)]\nmod old;\n").is_err());
        assert!(delete("mod a; mod old;\n").is_err());
    }

    #[test]
    fn what_the_fix_could_get_wrong_is_refused() {
        assert!(
            fixed("use crate::old::create; // keep\n", "create;", NEW).is_ok(),
            "a comment after the `;` stays"
        );
        assert_eq!(
            fixed("use crate::old::{/* why */ create};\n", "create}", NEW),
            Err("the `use` statement has a comment the fix would lose")
        );
        assert_eq!(
            fixed("#[cfg(unix)]\nuse crate::old::{create, F};\n", "create,", NEW),
            Err("the `use` statement has attributes the fix would have to copy")
        );
    }

    /// The text with the module import at `old` rewritten so that `create` names the replacement.
    fn module_fixed(text: &str) -> Result<String, &'static str> {
        let start = text.find("old").expect("module");
        let edit = module_import_edit(text, start, start + "old".len(), NEW, "create")?;
        let mut out = text.to_owned();
        out.replace_range(edit.range, &edit.text);
        Ok(out)
    }

    #[test]
    fn a_module_used_only_for_the_item_names_the_replacement() {
        let text = "use crate::old;\n\nfn f() {\n    old::create(1);\n    let g = old::create;\n}\n";
        assert_eq!(
            module_fixed(text),
            Ok(format!(
                "use {NEW};\n\nfn f() {{\n    create(1);\n    let g = create;\n}}\n"
            ))
        );
        let renamed = "use crate::old as legacy;\nfn f() { legacy::create(1); }\n";
        let start = renamed.find("old").expect("module");
        let edit = module_import_edit(renamed, start, start + 3, NEW, "create").expect("fixed");
        assert_eq!(edit.text, format!("use {NEW};\nfn f() {{ create"));
    }

    #[test]
    fn a_module_used_for_more_or_in_comments_is_left() {
        let more = "use crate::old;\nfn f() { old::create(1); old::other(); }\n";
        assert_eq!(
            module_fixed(more),
            Err("the module names more than the replaced item in this file")
        );
        let comment = "use crate::old;\nfn f() {\n    // old::create(1)\n    old::create(2);\n}\n";
        assert_eq!(
            module_fixed(comment),
            Err("a use of the module is in a comment or a string")
        );
        let taken = "use crate::old;\nfn create() {}\nfn f() { old::create(1); }\n";
        assert_eq!(
            module_fixed(taken),
            Err("the replaced item's name is a name in the file already")
        );
        let grouped = "use crate::{old, other};\nfn f() { old::create(1); }\n";
        assert_eq!(
            module_fixed(grouped),
            Err("the module is imported in a group or with a comment")
        );
    }
}
