//! Rule files: TOML in, a validated rule set out, before any source file is read.
//!
//! A rule file holds `[[rule]]` tables (`id`, `kind`, `message`, optional `severity`, and the kind's own
//! keys), and optionally `rules = [...]` (more files or folders to load, relative to it) and
//! `[scan] exclude = [...]` (globs relative to it that the default scan leaves out). Every mistake is a
//! diagnostic pointing at its span in the file.

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use miette::{Diagnostic, NamedSource, SourceSpan};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::finding::Severity;
use crate::rules::{self, Check, Params, RuleKind, RuleMeta};
use crate::workspace::Excludes;

/// The name of a configuration file found by walking up from the current directory.
pub const CONFIG_FILE: &str = "ssot.toml";
/// The name of a rules folder found by walking up from the current directory.
pub const RULES_DIR: &str = "rules";

/// A configuration mistake.
#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum ConfigError {
    /// A rule file or folder could not be read.
    #[error("cannot read rules from `{path}`: {source}")]
    #[diagnostic(code(ssot_check::config::io))]
    Io {
        /// The file or folder.
        path: String,
        /// What the file system said.
        source: std::io::Error,
    },
    /// No `--rules` given and no `ssot.toml` or `rules/` found.
    #[error("no rules to check: no `--rules` given and no `ssot.toml` or `rules/` folder in `{0}` or above")]
    #[diagnostic(
        code(ssot_check::config::none),
        help("pass `--rules PATH`, or add an `ssot.toml` or a `rules/` folder")
    )]
    NotFound(String),
    /// A folder named as rules holds no `.toml` file.
    #[error("`{0}` holds no `.toml` rule file")]
    #[diagnostic(code(ssot_check::config::empty))]
    EmptyFolder(String),
    /// A mistake at a place in a rule file.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Invalid(Box<InvalidRules>),
    /// Several mistakes, each at its place: every one is reported, not only the first.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Several(Box<InvalidRuleSet>),
}

/// Every mistake found in the rule files, in the order they were read.
#[derive(Debug, thiserror::Error, Diagnostic)]
#[error("{} mistakes in the rule files", .mistakes.len())]
#[diagnostic(code(ssot_check::config::invalid), help("each is shown below, at its place"))]
pub struct InvalidRuleSet {
    /// The mistakes.
    #[related]
    pub mistakes: Vec<InvalidRules>,
}

/// A mistake at a place in a rule file, with the file's text for the snippet.
#[derive(Debug, thiserror::Error, Diagnostic)]
#[error("{message}")]
#[diagnostic(code(ssot_check::config::invalid))]
pub struct InvalidRules {
    /// What is wrong.
    pub message: String,
    /// The rule file.
    #[source_code]
    pub src: NamedSource<String>,
    /// Where.
    #[label("{label}")]
    pub span: SourceSpan,
    /// The text of the label.
    pub label: String,
    /// How to fix it.
    #[help]
    pub help: Option<String>,
}

/// One configured rule, ready to check.
pub struct Rule {
    /// Id, kind, message and severity.
    pub meta: RuleMeta,
    /// The kind.
    pub kind: &'static RuleKind,
    /// The kind's check, built from the rule's keys.
    pub check: Box<dyn Check>,
    /// `in = [...]`: the modules the rule looks at; everywhere when `None`.
    pub scope: Option<rules::scope::Scope>,
    /// The language whose files the rule looks at; both when `None`. Set by `language = ".."`, else
    /// by the notation of the paths the rule names (`::` for Rust, dotted for Python, or both).
    pub language: Option<crate::facts::Language>,
}

impl Rule {
    /// Whether any of the files is in the rule's language (a Python rule has nothing to say of a Rust
    /// workspace: it is not applicable there, rather than kept).
    pub fn reads_a_file_of(&self, facts: &[crate::facts::FileFacts]) -> bool {
        self.language.is_none_or(|language| {
            facts
                .iter()
                .any(|f| crate::facts::Language::of_path(&f.path) == Some(language))
        })
    }

    /// The facts this rule sees: all of them, or those in its scope.
    pub fn facts_seen<'f>(
        &self,
        facts: &'f [crate::facts::FileFacts],
    ) -> std::borrow::Cow<'f, [crate::facts::FileFacts]> {
        let scoped = match &self.scope {
            None => std::borrow::Cow::Borrowed(facts),
            Some(scope) => std::borrow::Cow::Owned(scope.select(facts)),
        };
        let Some(language) = self.language else {
            return scoped;
        };
        let other =
            |f: &crate::facts::FileFacts| crate::facts::Language::of_path(&f.path).is_some_and(|l| l != language);
        if !scoped.iter().any(other) {
            return scoped;
        }
        // Files of the other language stay (their problems are still reported), without facts, not
        // even their module (a removed module is found by its files).
        let kept = scoped
            .iter()
            .map(|f| match other(f) {
                true => crate::facts::FileFacts {
                    path: f.path.clone(),
                    krate: f.krate.clone(),
                    in_test: f.in_test,
                    problem: f.problem.clone(),
                    ..crate::facts::FileFacts::default()
                },
                false => f.clone(),
            })
            .collect();
        std::borrow::Cow::Owned(kept)
    }
}

impl std::fmt::Debug for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rule")
            .field("meta", &self.meta)
            .field("check", &self.check)
            .finish()
    }
}

/// Everything loaded from the rule files.
#[derive(Debug, Default)]
pub struct Config {
    /// Rules in the order they were loaded.
    pub rules: Vec<Rule>,
    /// What the default scan leaves out.
    pub excludes: Vec<Excludes>,
    /// The files read.
    pub files: Vec<PathBuf>,
    /// `[check]`: the one build to check exactly, when the rule files name one (the command line's
    /// `--target` and feature flags take its place).
    pub build: Option<crate::configurations::Build>,
    /// See [`Config::fingerprint`]: computed once, while no rule has run. A compiled matcher's debug
    /// text can change once it has been used (its regex caches), and the fingerprint must not.
    fingerprint: std::sync::OnceLock<u64>,
}

impl Config {
    /// What a function body must contain to matter to some rule: bodies with none of it are not parsed.
    pub fn body_words(&self) -> crate::frontend::BodyWords {
        let each: Vec<(Option<Vec<String>>, bool)> = self
            .rules
            .iter()
            .map(|rule| (rule.check.body_words(), rule.check.reads_references()))
            .collect();
        let followed = each
            .iter()
            .filter(|(_, reads)| *reads)
            .filter_map(|(words, _)| words.clone())
            .flatten()
            .collect();
        let words: Option<Vec<Vec<String>>> = each.into_iter().map(|(words, _)| words).collect();
        let attributes = self.rules.iter().any(|rule| rule.check.reads_attributes());
        let body_words = crate::frontend::BodyWords::new(words.map(|w| w.concat()))
            .following(followed)
            .reading_attributes(attributes);
        if self.rules.iter().all(|rule| rule.check.reads_tests()) {
            return body_words;
        }
        // Words of rules that leave test code out cannot make a macro in test code matter.
        let test_words: Option<Vec<Vec<String>>> = self
            .rules
            .iter()
            .filter(|rule| rule.check.reads_tests())
            .map(|rule| rule.check.body_words())
            .collect();
        let tests = crate::frontend::BodyWords::new(test_words.map(|w| w.concat())).reading_attributes(attributes);
        body_words.with_test_words(tests)
    }

    /// Identifies the rules (ids, kinds and settings): what facts they use.
    pub fn fingerprint(&self) -> u64 {
        *self.fingerprint.get_or_init(|| self.compute_fingerprint())
    }

    fn compute_fingerprint(&self) -> u64 {
        let text: String = self
            .rules
            .iter()
            .map(|rule| {
                let meta = &rule.meta;
                // Where a rule is written does not change what facts it uses.
                format!(
                    "{}{}{}{:?}{:?}\n",
                    meta.id, meta.kind, meta.message, meta.severity, rule.check
                )
            })
            .collect();
        xxhash_rust::xxh3::xxh3_64(text.as_bytes())
    }

    /// Whether some rule uses the fact (see [`crate::rules::Check::uses`]), or it is a path that could
    /// not be resolved which a rule could have matched (counted, see [`Config::could_match`]); the
    /// others are not kept.
    pub fn uses(&self, fact: crate::facts::Fact<'_>, words: &crate::frontend::BodyWords) -> bool {
        self.rules.iter().any(|rule| rule.check.uses(fact))
            || matches!(fact, crate::facts::Fact::Reference(r) if r.unresolved && could_match(words, &r.path))
    }
}

/// Whether a rule could match a path as written: it holds one of the rules' words, or the rules have
/// none (any path may matter). The same test decides which bodies are read, so what it counts does not
/// depend on shortcuts.
pub fn could_match(words: &crate::frontend::BodyWords, path: &str) -> bool {
    !words.skips_bodies() || words.mentioned_in(path)
}

/// Finds the default configuration: the nearest `ssot.toml`, or `rules/` folder holding a `.toml` file,
/// at or above `dir` (a `rules/` folder of source code, like this crate's `src/rules`, is not one).
pub fn discover(dir: &Path) -> Option<PathBuf> {
    let holds_rules = |folder: &Path| {
        std::fs::read_dir(folder).is_ok_and(|entries| {
            entries
                .filter_map(Result::ok)
                .any(|e| e.path().extension().is_some_and(|x| x == "toml"))
        })
    };
    dir.ancestors().find_map(|d| {
        let file = d.join(CONFIG_FILE);
        let folder = d.join(RULES_DIR);
        if file.is_file() {
            Some(file)
        } else if holds_rules(&folder) {
            Some(folder)
        } else {
            None
        }
    })
}

/// Loads rule files and folders (in order), following their `rules = [...]` includes. Files are named
/// relative to `base` in messages.
pub fn load(paths: &[PathBuf], base: &Path) -> Result<Config, ConfigError> {
    let mut loader = Loader {
        // Reported paths are relative to the canonical base (see `workspace::scan`).
        base: std::fs::canonicalize(base).unwrap_or_else(|_| base.to_path_buf()),
        ..Loader::default()
    };
    for path in paths {
        loader.load_path(path)?;
    }
    match loader.mistakes.len() {
        0 => {
            loader.config.fingerprint();
            Ok(loader.config)
        }
        1 => Err(ConfigError::Invalid(Box::new(loader.mistakes.remove(0)))),
        _ => Err(ConfigError::Several(Box::new(InvalidRuleSet {
            mistakes: loader.mistakes,
        }))),
    }
}

#[derive(Default)]
struct Loader {
    base: PathBuf,
    config: Config,
    /// Rule id -> where it was first defined.
    ids: HashMap<String, String>,
    /// Mistakes at places in rule files, collected so that all are reported at once (cargo-deny's
    /// validation): a rule with a mistake is left out and the next one is read.
    mistakes: Vec<InvalidRules>,
}

impl Loader {
    /// Keeps a mistake at a place for the report and goes on; any other error stops the loading.
    fn note(&mut self, result: Result<(), ConfigError>) -> Result<(), ConfigError> {
        match result {
            Err(ConfigError::Invalid(mistake)) => {
                self.mistakes.push(*mistake);
                Ok(())
            }
            other => other,
        }
    }

    fn load_path(&mut self, path: &Path) -> Result<(), ConfigError> {
        let io = |source| ConfigError::Io {
            path: path.display().to_string(),
            source,
        };
        if path.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(io)?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "toml") && p.is_file())
                .collect();
            if files.is_empty() {
                return Err(ConfigError::EmptyFolder(path.display().to_string()));
            }
            files.sort();
            files.into_iter().try_for_each(|f| self.load_file(&f))
        } else {
            std::fs::metadata(path).map_err(io)?;
            self.load_file(path)
        }
    }

    fn load_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        if self.config.files.contains(&canonical) {
            return Ok(());
        }
        self.config.files.push(canonical.clone());
        let bytes = std::fs::read(path).map_err(|source| ConfigError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let name = crate::workspace::display_path(&self.base, &canonical);
        let text = String::from_utf8(bytes).map_err(|e| {
            let at = e.utf8_error().valid_up_to();
            let text = String::from_utf8_lossy(e.as_bytes()).into_owned();
            invalid(
                &name,
                &text,
                at..at + 1,
                "rule file is not valid UTF-8",
                "invalid byte",
                None,
            )
        })?;
        let file = RuleFile {
            name: name.clone(),
            text: &text,
            dir: canonical.parent().map(Path::to_path_buf).unwrap_or_default(),
        };
        let table = DeTable::parse(&text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            file.error(span, format!("invalid TOML: {}", e.message().trim_end()), "here", None)
        })?;
        let mut includes = Vec::new();
        for (key, value) in table.into_inner() {
            let read = match key.get_ref().as_ref() {
                "rule" => match value.get_ref() {
                    DeValue::Array(array) => {
                        for rule in array {
                            let loaded = self.load_rule(&file, rule);
                            self.note(loaded)?;
                        }
                        Ok(())
                    }
                    _ => Err(file.error(
                        value.span(),
                        "`rule` must be an array of tables: write `[[rule]]`",
                        "not [[rule]]",
                        None,
                    )),
                },
                "rules" => file.string_list(&value, "rules").map(|list| includes = list),
                "scan" => file.scan(&value).map(|excludes| self.config.excludes.extend(excludes)),
                "check" => match self.config.build.is_some() {
                    true => Err(file.error(
                        key.span(),
                        "a second `[check]`: the build to check is named once, in one rule file",
                        "second [check]",
                        None,
                    )),
                    false => file.check_build(&value).map(|build| self.config.build = Some(build)),
                },
                other => Err(file.error(
                    key.span(),
                    format!("unknown key `{other}` in a rule file"),
                    "unknown key",
                    Some("a rule file holds `[[rule]]` tables, `rules = [...]`, `[scan]` and `[check]`".into()),
                )),
            };
            self.note(read)?;
        }
        for (include, span) in includes {
            let target = file.dir.join(&include);
            let found = match target.exists() {
                true => self.load_path(&target),
                false => Err(file.error(
                    span,
                    format!("`{include}` does not exist"),
                    "no such file or folder",
                    None,
                )),
            };
            self.note(found)?;
        }
        Ok(())
    }

    fn load_rule(&mut self, file: &RuleFile<'_>, rule: &Spanned<DeValue<'_>>) -> Result<(), ConfigError> {
        let DeValue::Table(table) = rule.get_ref() else {
            return Err(file.error(rule.span(), "each `[[rule]]` must be a table", "not a table", None));
        };
        let mut rest = DeTable::new();
        let (mut id, mut kind, mut message, mut severity, mut language) = (None, None, None, None, None);
        let mut scope = None;
        for (key, value) in table.clone() {
            let slot = match key.get_ref().as_ref() {
                "in" => {
                    scope = Some(scope_of(file, &value)?);
                    continue;
                }
                "id" => &mut id,
                "kind" => &mut kind,
                "message" => &mut message,
                "severity" => &mut severity,
                "language" => &mut language,
                _ => {
                    rest.insert(key, value);
                    continue;
                }
            };
            let Some(text) = value.get_ref().as_str() else {
                return Err(file.error(
                    value.span(),
                    format!("`{}` must be a string", key.get_ref()),
                    "not a string",
                    None,
                ));
            };
            *slot = Some((text.to_owned(), value.span()));
        }
        let missing = |what: &str| {
            file.error(
                rule.span(),
                format!("this rule has no `{what}`"),
                format!("`{what}` missing"),
                None,
            )
        };
        let (id, id_span) = id.ok_or_else(|| missing("id"))?;
        let (kind_name, kind_span) = kind.ok_or_else(|| missing("kind"))?;
        let (message, _) = message.ok_or_else(|| missing("message"))?;
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(file.error(
                id_span,
                format!("rule id `{id}` must be letters, digits, `-` and `_`"),
                "invalid id",
                None,
            ));
        }
        let kind = rules::kind(&kind_name).ok_or_else(|| {
            let known: Vec<&str> = rules::KINDS.iter().map(|k| k.name).collect();
            file.error(
                kind_span.clone(),
                format!("unknown rule kind `{kind_name}`"),
                "unknown kind",
                Some(format!("known kinds: {}", known.join(", "))),
            )
        })?;
        let severity = match severity {
            None => Severity::Error,
            Some((s, _)) if s == "error" => Severity::Error,
            Some((s, _)) if s == "warning" => Severity::Warning,
            Some((s, span)) => {
                return Err(file.error(
                    span,
                    format!("unknown severity `{s}`"),
                    "unknown severity",
                    Some("use \"error\" or \"warning\"".into()),
                ));
            }
        };
        let language = match language {
            None => notation_language(table),
            Some((name, _)) if name == "both" => None,
            Some((name, span)) => Some(crate::facts::Language::parse(&name).ok_or_else(|| {
                file.error(
                    span,
                    format!("unknown language `{name}`"),
                    "unknown language",
                    Some("use \"rust\", \"python\" or \"both\"".into()),
                )
            })?),
        };
        let line = file.line_of(id_span.start);
        let defined_at = format!("{}:{line}", file.name);
        if let Some(first) = self.ids.get(&id) {
            return Err(file.error(
                id_span,
                format!("duplicate rule id `{id}`"),
                "defined again here",
                Some(format!("first defined at {first}")),
            ));
        }
        let check = (kind.build)(Params::new(
            Spanned::new(rule.span(), DeValue::Table(rest)),
            &file.dir,
            &self.base,
        ))
        .map_err(|e| {
            file.error(
                e.span,
                format!("rule `{id}` ({}): {}", kind.name, e.message.trim_end()),
                "here",
                Some(format!("see `ssot-check explain {}`", kind.name)),
            )
        })?;
        self.ids.insert(id.clone(), defined_at.clone());
        self.config.rules.push(Rule {
            meta: RuleMeta {
                id,
                kind: kind.name,
                message,
                severity,
                defined_at,
            },
            kind,
            check,
            scope,
            language,
        });
        Ok(())
    }
}

/// The language a rule's paths are written for: Rust when every path it names uses `::`, Python when
/// every one is dotted, both when it names none or both notations. Only the values of its path keys
/// (`in` included) count: not its words (`id`, `message`, a `reason` at any depth) nor its file globs
/// (`allow-in`), where a dot is a file's extension or a version.
fn notation_language(table: &DeTable<'_>) -> Option<crate::facts::Language> {
    const NOT_PATHS: [&str; 7] = ["id", "kind", "message", "severity", "language", "reason", "allow-in"];
    fn paths<'v>(value: &'v DeValue<'_>, out: &mut Vec<&'v str>) {
        match value {
            DeValue::String(s) => out.push(s),
            DeValue::Array(items) => items.iter().for_each(|i| paths(i.get_ref(), out)),
            DeValue::Table(table) => table
                .iter()
                .filter(|(key, _)| !NOT_PATHS.contains(&key.get_ref().as_ref()))
                .for_each(|(_, v)| paths(v.get_ref(), out)),
            _ => {}
        }
    }
    let whole = DeValue::Table(table.clone());
    let mut found = Vec::new();
    paths(&whole, &mut found);
    let (mut rust, mut python) = (false, false);
    for path in found.iter().filter(|s| !s.contains(['/', ' '])) {
        rust |= path.contains("::");
        python |= crate::pattern::is_dotted(path);
    }
    match (rust, python) {
        (true, false) => Some(crate::facts::Language::Rust),
        (false, true) => Some(crate::facts::Language::Python),
        _ => None,
    }
}

/// Reads `in = "pattern"` or `in = ["pattern", ...]`: at least one valid path pattern.
fn scope_of(file: &RuleFile<'_>, value: &Spanned<DeValue<'_>>) -> Result<rules::scope::Scope, ConfigError> {
    let bad = |label: &str, message: String| file.error(value.span(), message, label, None);
    let texts: Vec<&str> = match value.get_ref() {
        DeValue::String(text) => vec![text.as_ref()],
        DeValue::Array(items) => items
            .iter()
            .map(|item| item.get_ref().as_str())
            .collect::<Option<_>>()
            .ok_or_else(|| bad("not a string", "`in` must be a module pattern or a list of them".into()))?,
        _ => {
            return Err(bad(
                "not a string",
                "`in` must be a module pattern or a list of them".into(),
            ));
        }
    };
    if texts.is_empty() {
        return Err(bad("empty", "`in` needs at least one module pattern".into()));
    }
    let patterns = texts
        .into_iter()
        .map(|text| crate::pattern::PathPattern::new(text).map_err(|e| bad("invalid pattern", format!("`in`: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rules::scope::Scope::new(patterns))
}

/// The rule file being loaded, for pointing at its spans.
struct RuleFile<'t> {
    name: String,
    text: &'t str,
    dir: PathBuf,
}

impl RuleFile<'_> {
    fn error(
        &self,
        span: Range<usize>,
        message: impl Into<String>,
        label: impl Into<String>,
        help: Option<String>,
    ) -> ConfigError {
        invalid(&self.name, self.text, span, message, label, help)
    }

    fn line_of(&self, offset: usize) -> usize {
        self.text[..offset.min(self.text.len())].matches('\n').count() + 1
    }

    fn string_list(&self, value: &Spanned<DeValue<'_>>, key: &str) -> Result<Vec<(String, Range<usize>)>, ConfigError> {
        let not_list = || {
            self.error(
                value.span(),
                format!("`{key}` must be an array of strings"),
                "not an array of strings",
                None,
            )
        };
        let DeValue::Array(items) = value.get_ref() else {
            return Err(not_list());
        };
        items
            .iter()
            .map(|item| {
                item.get_ref()
                    .as_str()
                    .map(|s| (s.to_owned(), item.span()))
                    .ok_or_else(not_list)
            })
            .collect()
    }

    /// Reads `[check]`: `target` (required, a triple rustc knows), `features`, `all-features`,
    /// `no-default-features`, the keys and meanings of the command line's flags.
    fn check_build(&self, value: &Spanned<DeValue<'_>>) -> Result<crate::configurations::Build, ConfigError> {
        let DeValue::Table(table) = value.get_ref() else {
            return Err(self.error(value.span(), "`check` must be a table", "not a table", None));
        };
        let mut build = crate::configurations::Build::default();
        let mut target = None;
        for (key, value) in table {
            let flag = |value: &Spanned<DeValue<'_>>| match value.get_ref() {
                DeValue::Boolean(on) => Ok(*on),
                _ => Err(self.error(
                    value.span(),
                    format!("`{}` must be true or false", key.get_ref()),
                    "not a boolean",
                    None,
                )),
            };
            match key.get_ref().as_ref() {
                "target" => {
                    let Some(triple) = value.get_ref().as_str() else {
                        return Err(self.error(value.span(), "`target` must be a string", "not a string", None));
                    };
                    build.target = triple.to_owned();
                    if !build.knows_target() {
                        return Err(self.error(
                            value.span(),
                            format!("unknown target `{triple}`"),
                            "unknown target",
                            Some("name a target rustc knows, as `rustc --print target-list` lists them".into()),
                        ));
                    }
                    target = Some(());
                }
                "features" => {
                    build.features = self
                        .string_list(value, "features")?
                        .into_iter()
                        .map(|(f, _)| f)
                        .collect()
                }
                "all-features" => build.all_features = flag(value)?,
                "no-default-features" => build.no_default_features = flag(value)?,
                other => {
                    return Err(self.error(
                        key.span(),
                        format!("unknown key `{other}` in [check]"),
                        "unknown key",
                        Some("[check] takes `target`, `features`, `all-features` and `no-default-features`".into()),
                    ));
                }
            }
        }
        target.ok_or_else(|| {
            self.error(
                value.span(),
                "`[check]` needs a `target`: the build is checked for one target triple",
                "no target",
                None,
            )
        })?;
        Ok(build)
    }

    fn scan(&self, value: &Spanned<DeValue<'_>>) -> Result<Option<Excludes>, ConfigError> {
        let DeValue::Table(table) = value.get_ref() else {
            return Err(self.error(value.span(), "`scan` must be a table", "not a table", None));
        };
        let mut builder = globset::GlobSetBuilder::new();
        let mut any = false;
        for (key, value) in table {
            if key.get_ref().as_ref() != "exclude" {
                return Err(self.error(
                    key.span(),
                    format!("unknown key `{}` in [scan]", key.get_ref()),
                    "unknown key",
                    Some("[scan] takes `exclude`".into()),
                ));
            }
            for (glob, span) in self.string_list(value, "exclude")? {
                let pattern = glob.trim_end_matches('/');
                for variant in [pattern.to_owned(), format!("{pattern}/**")] {
                    let compiled = globset::GlobBuilder::new(&variant)
                        .literal_separator(true)
                        .build()
                        .map_err(|e| {
                            self.error(
                                span.clone(),
                                format!("`{glob}` is not a valid glob: {}", e.kind()),
                                "invalid glob",
                                None,
                            )
                        })?;
                    builder.add(compiled);
                }
                any = true;
            }
        }
        let globs = builder
            .build()
            .map_err(|e| self.error(value.span(), e.to_string(), "here", None))?;
        Ok(any.then(|| Excludes {
            base: self.dir.clone(),
            globs,
        }))
    }
}

fn invalid(
    name: &str,
    text: &str,
    span: Range<usize>,
    message: impl Into<String>,
    label: impl Into<String>,
    help: Option<String>,
) -> ConfigError {
    let end = span.end.min(text.len());
    let start = span.start.min(end);
    ConfigError::Invalid(Box::new(InvalidRules {
        message: message.into(),
        src: NamedSource::new(name, text.to_owned()),
        span: (start, end - start).into(),
        label: label.into(),
        help,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_text(text: &str) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("rules.toml");
        std::fs::write(&path, text).expect("write");
        load(&[path], dir.path())
    }

    fn error_of(text: &str) -> (String, String) {
        match load_text(text) {
            Err(ConfigError::Several(set)) => panic!("expected one mistake, got {:?}", set.mistakes),
            Err(ConfigError::Invalid(invalid)) => {
                let (offset, len) = (invalid.span.offset(), invalid.span.len());
                (
                    invalid.message.clone(),
                    invalid.src.inner()[offset..offset + len].to_owned(),
                )
            }
            other => panic!("expected an invalid-config error, got {other:?}"),
        }
    }

    const GOOD: &str = r#"
[[rule]]
id = "one-router"
kind = "single-definition"
message = "one router"
name = "MessageRouter"
"#;

    #[test]
    fn a_rule_applies_to_the_language_its_paths_name() {
        use crate::facts::Language;
        let language = |keys: &str| {
            let text = format!("[[rule]]\nid = \"r\"\nkind = \"banned-import\"\nmessage = \"m.n\"\n{keys}\n");
            load_text(&text).expect("loads").rules[0].language
        };
        assert_eq!(language(r#"paths = ["app::legacy"]"#), Some(Language::Rust));
        assert_eq!(language(r#"paths = ["app.legacy"]"#), Some(Language::Python));
        assert_eq!(language(r#"paths = ["legacy"]"#), None);
        assert_eq!(language(r#"paths = ["app::legacy", "app.old"]"#), None);
        // A file glob's extension, a version in a reason, the message's words: not paths.
        assert_eq!(
            language("paths = [{ path = \"app::legacy\", reason = \"gone.in.v2\" }]\nallow-in = [\"compat.rs\"]"),
            Some(Language::Rust)
        );
        assert_eq!(
            language("paths = [\"legacy\"]\nin = [\"netra.app\"]"),
            Some(Language::Python)
        );
        assert_eq!(language("paths = [\"app.legacy\"]\nlanguage = \"both\""), None);
        let error = error_of(&format!("{GOOD}language = \"cobol\"\n"));
        assert_eq!(error.0, "unknown language `cobol`");
    }

    #[test]
    fn loads_a_rule_with_defaults() {
        let config = load_text(GOOD).expect("loads");
        assert_eq!(config.rules.len(), 1);
        assert_eq!(config.rules[0].meta.severity, Severity::Error);
        assert!(config.rules[0].meta.defined_at.ends_with("rules.toml:3"));
    }

    #[test]
    fn errors_point_at_the_offending_span() {
        assert_eq!(error_of(&GOOD.replace("name =", "nmae =")).1, "nmae");
        assert_eq!(
            error_of(&GOOD.replace("single-definition", "single-defn")),
            ("unknown rule kind `single-defn`".into(), "\"single-defn\"".into())
        );
        assert_eq!(error_of(&format!("{GOOD}{GOOD}")).0, "duplicate rule id `one-router`");
        assert_eq!(error_of(&GOOD.replace("\"MessageRouter\"", "\"[x\"")).1, "\"[x\"");
        assert_eq!(error_of(&format!("{GOOD}severity = \"fatal\"\n")).1, "\"fatal\"");
        assert!(error_of("[[rule]]\nid = \"x\"\n").0.contains("no `kind`"));
        assert!(error_of("[[rule]\n").0.starts_with("invalid TOML"));
        assert_eq!(error_of("colour = 1\n").1, "colour");
        assert_eq!(error_of(&GOOD.replace("one-router", "one router")).1, "\"one router\"");
    }

    #[test]
    fn every_mistake_of_a_file_is_reported_not_only_the_first() {
        let text = format!(
            "colour = 1\n{}\n{}\n{GOOD}",
            GOOD.replace("name =", "nmae ="),
            GOOD.replace("one-router", "two-router")
                .replace("single-definition", "single-defn"),
        );
        let Err(ConfigError::Several(set)) = load_text(&text) else {
            panic!("expected several mistakes");
        };
        let messages: Vec<&str> = set.mistakes.iter().map(|m| m.message.as_str()).collect();
        assert_eq!(messages.len(), 3, "{messages:?}");
        assert_eq!(messages[0], "unknown key `colour` in a rule file");
        assert!(messages[1].contains("unknown field `nmae`"), "{messages:?}");
        assert_eq!(messages[2], "unknown rule kind `single-defn`");
        let mut rendered = String::new();
        miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
            .render_report(&mut rendered, &ConfigError::Several(set))
            .expect("renders");
        assert!(
            rendered.contains("3 mistakes in the rule files") && rendered.contains("colour"),
            "{rendered}"
        );
    }

    #[test]
    fn includes_and_scan_excludes_are_relative_to_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("rules")).expect("mkdir");
        std::fs::write(dir.path().join("rules/a.toml"), GOOD).expect("write");
        std::fs::write(
            dir.path().join("ssot.toml"),
            "rules = [\"rules\"]\n[scan]\nexclude = [\"fixtures/\"]\n",
        )
        .expect("write");
        let config = load(&[dir.path().join("ssot.toml")], dir.path()).expect("loads");
        assert_eq!(config.rules.len(), 1);
        assert_eq!(config.excludes.len(), 1);
        assert!(config.excludes[0].globs.is_match("fixtures/a/b.rs"));
        assert!(config.excludes[0].globs.is_match("fixtures"));
        assert!(!config.excludes[0].globs.is_match("src/fixtures.rs"));
    }

    #[test]
    fn a_rules_folder_of_source_code_is_not_a_configuration() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("ssot.toml"), GOOD).expect("write");
        std::fs::create_dir_all(dir.path().join("src/rules")).expect("mkdir");
        std::fs::write(dir.path().join("src/rules/mod.rs"), "").expect("write");
        assert_eq!(discover(&dir.path().join("src")), Some(dir.path().join("ssot.toml")));
    }

    #[test]
    fn discovery_prefers_the_nearest() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("rules")).expect("mkdir");
        std::fs::write(dir.path().join("rules/a.toml"), GOOD).expect("write");
        std::fs::create_dir_all(dir.path().join("a/b")).expect("mkdir");
        assert_eq!(discover(&dir.path().join("a/b")), Some(dir.path().join("rules")));
        std::fs::write(dir.path().join("a/ssot.toml"), "").expect("write");
        assert_eq!(discover(&dir.path().join("a/b")), Some(dir.path().join("a/ssot.toml")));
    }

    #[test]
    fn a_scope_is_a_pattern_or_a_list_of_them() {
        let scoped = load_text(&format!("{GOOD}in = [\"app::ws\", \"app::**\"]\n")).expect("loads");
        assert!(scoped.rules[0].scope.as_ref().is_some_and(|s| s.covers("app::ws::X")));
        assert!(
            load_text(&format!("{GOOD}in = \"app\"\n")).expect("loads").rules[0]
                .scope
                .is_some()
        );
        assert_eq!(
            error_of(&format!("{GOOD}in = []\n")).0,
            "`in` needs at least one module pattern"
        );
        assert_eq!(error_of(&format!("{GOOD}in = [1]\n")).1, "[1]");
        assert!(error_of(&format!("{GOOD}in = \"[x\"\n")).0.starts_with("`in`: "));
    }

    #[test]
    fn a_check_table_names_one_build() {
        let config = load_text(&format!(
            "[check]\ntarget = \"x86_64-unknown-linux-gnu\"\nfeatures = [\"rt\"]\nno-default-features = true\n{GOOD}"
        ))
        .expect("loads");
        let build = config.build.expect("a build");
        assert_eq!(
            (build.target.as_str(), build.features),
            ("x86_64-unknown-linux-gnu", vec!["rt".to_owned()])
        );
        assert!(build.no_default_features && !build.all_features);
        assert_eq!(
            error_of("[check]\ntarget = \"x86_64-nowhere\"\n").1,
            "\"x86_64-nowhere\""
        );
        assert!(error_of("[check]\nfeatures = []\n").0.contains("needs a `target`"));
        assert_eq!(
            error_of("[check]\ntarget = \"x86_64-unknown-linux-gnu\"\nall-features = 1\n").1,
            "1"
        );
        assert_eq!(
            error_of("[check]\ntarget = \"x86_64-unknown-linux-gnu\"\nfeature = []\n").1,
            "feature"
        );
    }
}
