//! What the contract kinds over the import graph (`layers`, `independence`, `acyclic`) share: the facts
//! they read, `ignore-imports` exceptions with their reasons, and how an edge becomes a finding.

use serde::Deserialize;
use toml::Spanned;

use super::{Fact, ParamError, RuleMeta};
use crate::finding::{Finding, Location, Severity};
use crate::graph::{ModuleGraph, Site};
use crate::pattern::PathPattern;

/// The keys every contract kind takes besides its own.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawIgnore {
    /// `"app::store -> app::web"`: from the modules the left pattern covers, to what the right one covers.
    import: Spanned<String>,
    /// Why the exception exists; required.
    reason: String,
}

/// One accepted exception: imports from the modules `from` covers to what `to` covers.
#[derive(Debug)]
struct Ignore {
    from: PathPattern,
    to: PathPattern,
    text: String,
}

/// The `ignore-imports` of a contract.
#[derive(Debug, Default)]
pub(crate) struct IgnoreImports {
    entries: Vec<Ignore>,
}

impl IgnoreImports {
    /// Validates the entries: each is `from -> to`, two path patterns.
    pub(crate) fn new(raw: &[RawIgnore]) -> Result<Self, ParamError> {
        let entries = raw
            .iter()
            .map(|entry| {
                let text = entry.import.get_ref();
                let span = entry.import.span();
                let (from, to) = text
                    .split_once("->")
                    .ok_or_else(|| ParamError::at(span.clone(), format!("`{text}` is not `from -> to`")))?;
                if entry.reason.trim().is_empty() {
                    return Err(ParamError::at(span, "an ignored import needs a `reason`"));
                }
                let pattern = |p: &str| PathPattern::new(p.trim()).map_err(|e| ParamError::at(span.clone(), e));
                Ok(Ignore {
                    from: pattern(from)?,
                    to: pattern(to)?,
                    text: text.clone(),
                })
            })
            .collect::<Result<Vec<_>, ParamError>>()?;
        Ok(IgnoreImports { entries })
    }

    /// The graph without the ignored sites, and the exceptions that matched no site.
    pub(crate) fn apply<'i>(&'i self, graph: &ModuleGraph) -> (ModuleGraph, Vec<&'i str>) {
        let used: Vec<std::sync::atomic::AtomicBool> = self.entries.iter().map(|_| Default::default()).collect();
        let kept = graph.without(|from, to, site| {
            let mut ignored = false;
            for (entry, used) in self.entries.iter().zip(&used) {
                if entry.from.covers(from) && (entry.to.covers(to) || entry.to.covers(&site.target)) {
                    used.store(true, std::sync::atomic::Ordering::Relaxed);
                    ignored = true;
                }
            }
            ignored
        });
        let unused = self
            .entries
            .iter()
            .zip(&used)
            .filter(|(_, used)| !used.load(std::sync::atomic::Ordering::Relaxed))
            .map(|(entry, _)| entry.text.as_str())
            .collect();
        (kept, unused)
    }

    /// A warning for each exception that matched nothing: a stale exception would hide the next real one.
    pub(crate) fn report_unused(unused: &[&str], rule: &RuleMeta, out: &mut Vec<Finding>) {
        for text in unused {
            // The rule file is the place to fix; findings point at files by path alone.
            let file = rule
                .defined_at
                .rsplit_once(':')
                .map_or(rule.defined_at.as_str(), |(f, _)| f);
            let mut finding = rule.finding(
                format!(
                    "ignored import `{text}` matches no import: remove it from rule `{}` ({})",
                    rule.id, rule.defined_at
                ),
                format!("unused ignore {text}"),
                Location {
                    path: file.to_owned(),
                    span: None,
                    label: String::new(),
                    member: None,
                },
                None,
            );
            finding.severity = Severity::Warning;
            out.push(finding);
        }
    }
}

/// Whether any module of `files` (a file's module or a declared one) is one `matches` accepts.
pub(crate) fn any_module(files: &[crate::facts::FileFacts], matches: impl Fn(&str) -> bool) -> bool {
    files
        .iter()
        .flat_map(|f| std::iter::once(f.module.as_str()).chain(f.modules.iter().map(|m| m.path.as_str())))
        .any(matches)
}

/// Whether a contract reads `fact`: every import, path and module (the graph needs them all).
pub(crate) fn uses(fact: Fact<'_>) -> bool {
    !matches!(fact, Fact::Definition(_))
}

/// The location of one site of an edge.
pub(crate) fn site_location(site: &Site, label: String) -> Location {
    Location {
        path: site.file.clone(),
        span: Some(site.span),
        label,
        member: None,
    }
}

/// A finding about a chain of edges (one edge, or a cycle or path of several): the primary location is
/// the first site of `primary_edge`, and every other site of every edge is related, labelled with its edge.
pub(crate) fn chain_finding(
    rule: &RuleMeta,
    graph: &ModuleGraph,
    chain: &[(&str, &str)],
    primary_edge: usize,
    message: String,
    symbol: String,
    help: Option<String>,
) -> Option<Finding> {
    let (from, to) = *chain.get(primary_edge)?;
    let sites = graph.sites(from, to)?;
    // The target lies in the edge's second module, so naming it says where the edge leads.
    let label = |site: &Site| {
        let how = if site.import { "imports" } else { "names" };
        format!("`{}` {how} `{}`", site.module, site.target)
    };
    let first = sites.first()?;
    let mut finding = rule.finding(message, symbol, site_location(first, label(first)), help);
    for (i, &(a, b)) in chain.iter().enumerate() {
        let Some(sites) = graph.sites(a, b) else {
            continue;
        };
        let skip = usize::from(i == primary_edge);
        finding
            .related
            .extend(sites.iter().skip(skip).map(|site| site_location(site, label(site))));
    }
    Some(finding)
}
