//! Every file's names resolved the way Python resolves them: a dotted name through the imports and
//! aliases of the module it is written in, an imported name through the module it comes from (an
//! `__init__.py` re-export is followed to the defining module, like `pub use`), star imports through
//! `__all__` or the public names.
//!
//! Layer invariant: reads what `read` produced; never the text or the syntax tree.

use std::collections::{HashMap, HashSet};

use super::read::{Binding, ReadFile};
use crate::facts::{Definition, DefinitionKind, FileFacts, Import, Reference, StaticFacts, join_path};
use crate::frontend::Keep;

/// How many re-exports and aliases a name is followed through before giving up (a cycle).
const MAX_HOPS: usize = 32;

/// What every module binds, for resolving names across files.
pub(crate) struct Index<'f> {
    files: &'f [&'f ReadFile],
    modules: HashMap<&'f str, usize>,
    bindings: Vec<HashMap<&'f str, &'f Binding>>,
    stars: Vec<Vec<&'f str>>,
    classes: HashSet<&'f str>,
}

impl<'f> Index<'f> {
    /// The index of `files`.
    pub fn new(files: &'f [&'f ReadFile]) -> Self {
        let mut modules = HashMap::with_capacity(files.len());
        for (i, file) in files.iter().enumerate() {
            if file.problem.is_none() || !modules.contains_key(file.module.as_str()) {
                modules.insert(file.module.as_str(), i);
            }
        }
        let bindings = files
            .iter()
            .map(|f| {
                let mut table = HashMap::with_capacity(f.bindings.len());
                // A later binding of a name wins at run time; definitions in exclusive branches are
                // the same name either way.
                for (name, binding) in &f.bindings {
                    table.insert(name.as_str(), binding);
                }
                table
            })
            .collect();
        let stars = files
            .iter()
            .map(|f| {
                f.imports
                    .iter()
                    .filter(|i| i.glob && i.module_level)
                    .map(|i| i.path.as_str())
                    .collect()
            })
            .collect();
        let classes = files
            .iter()
            .flat_map(|f| f.definitions.iter())
            .filter(|d| d.kind == DefinitionKind::Class && !d.local)
            .map(|d| d.path.as_str())
            .collect();
        Index {
            files,
            modules,
            bindings,
            stars,
            classes,
        }
    }

    /// Where `path` finally leads: through the modules of the workspace, each segment that a module
    /// binds by import or alias is replaced by what it names.
    pub fn follow(&self, path: &str) -> String {
        let mut path = path.to_owned();
        for _ in 0..MAX_HOPS {
            match self.step(&path) {
                Some(next) if next != path => path = next,
                _ => break,
            }
        }
        path
    }

    /// One hop of [`Index::follow`], or `None` when `path` is where it leads.
    fn step(&self, path: &str) -> Option<String> {
        // The longest prefix that is a module of the workspace, tried at each `::` from the right.
        let ends = path
            .match_indices("::")
            .map(|(at, _)| at)
            .chain(std::iter::once(path.len()));
        let ends: Vec<usize> = ends.collect();
        let (end, file) = ends
            .iter()
            .rev()
            .find_map(|&end| self.modules.get(&path[..end]).map(|&f| (end, f)))?;
        if end == path.len() {
            return None;
        }
        let after = &path[end + 2..];
        let (name, rest) = match after.split_once("::") {
            Some((name, rest)) => (name, Some(rest)),
            None => (after, None),
        };
        let with_rest = |base: String| match rest {
            Some(rest) => join_path(&base, rest),
            None => base,
        };
        match self.bindings[file].get(name) {
            Some(Binding::Defined) => None,
            Some(Binding::Import(target)) => Some(with_rest(target.clone())),
            Some(Binding::Alias(chain)) => self.resolve_in(file, chain, 0).map(with_rest),
            None => self.stars[file].iter().find_map(|star| {
                let star_file = *self.modules.get(star)?;
                self.exports(star_file, name)
                    .then(|| with_rest(format!("{star}::{name}")))
            }),
        }
    }

    /// Whether a star import of the module in `file` binds `name`.
    fn exports(&self, file: usize, name: &str) -> bool {
        match &self.files[file].all {
            Some(all) => all.iter().any(|n| n == name),
            None => !name.starts_with('_') && self.bindings[file].contains_key(name),
        }
    }

    /// The absolute path a dotted chain written in module `file` names, through that module's bindings.
    fn resolve_in(&self, file: usize, chain: &[String], depth: usize) -> Option<String> {
        let (first, rest) = chain.split_first()?;
        let base = match self.bindings[file].get(first.as_str())? {
            Binding::Defined => join_path(&self.files[file].module, first),
            Binding::Import(target) => target.clone(),
            Binding::Alias(alias) if depth < MAX_HOPS && alias.first() != Some(first) => {
                self.resolve_in(file, alias, depth + 1)?
            }
            Binding::Alias(_) => return None,
        };
        Some(rest.iter().fold(base, |p, s| join_path(&p, s)))
    }

    /// The facts of the file at `index`, its names resolved, keeping what `keep` wants.
    pub fn facts(&self, index: usize, keep: &Keep<'_>) -> FileFacts {
        let file = self.files[index];
        let module = file.module.as_str();
        let package_init = file.package;
        let mut facts = FileFacts {
            module: module.to_owned(),
            suppressions: file.suppressions.clone(),
            problem: file.problem.clone(),
            ..FileFacts::default()
        };
        facts.definitions = file
            .definitions
            .iter()
            .filter(|d| keep(crate::facts::Fact::Definition(d)))
            .cloned()
            .collect();
        facts
            .definitions
            .extend(self.state(file).filter(|d| keep(crate::facts::Fact::Definition(d))));
        // Function-level imports bind names for the code after them; looked up after the module's.
        let local_imports: HashMap<&str, &str> = file
            .imports
            .iter()
            .filter(|i| !i.module_level)
            .filter_map(|i| Some((i.binding.as_deref()?, i.bound_path.as_str())))
            .collect();
        for import in &file.imports {
            let exported = import.binding.as_deref().is_some_and(|name| match &file.all {
                Some(all) => all.iter().any(|n| n == name),
                None => package_init && !name.starts_with('_'),
            });
            let fact = Import {
                target: if import.glob {
                    import.path.clone()
                } else {
                    self.follow(&import.path)
                },
                path: import.path.clone(),
                binding: import.binding.clone(),
                glob: import.glob,
                reexport: import.module_level && (exported || import.glob && package_init),
                extern_crate: false,
                module: module.to_owned(),
                span: import.span,
                in_test: import.in_test,
                cfg: None,
            };
            if keep(crate::facts::Fact::Import(&fact)) {
                facts.imports.push(fact);
            }
        }
        // A module names the same things again and again (`models.Model`, `S.Zero`): each is resolved
        // once, and each use is shown to the rules in one reused reference (most are not kept).
        let mut resolved: HashMap<&str, Option<(String, Option<String>)>> = HashMap::new();
        let mut shown = Reference {
            path: String::new(),
            context: crate::facts::ReferenceContext::Expr,
            via_import: None,
            enclosing: String::new(),
            span: crate::facts::Span::default(),
            in_test: false,
            unresolved: false,
        };
        for used in &file.uses {
            let leads = resolved
                .entry(&used.dotted)
                .or_insert_with(|| self.resolve_use(index, used, &local_imports));
            let Some((path, via_import)) = leads else {
                continue;
            };
            let (enclosing, in_test) = &file.scopes[used.scope as usize];
            shown.path.clear();
            shown.path.push_str(path);
            shown.via_import.clone_from(via_import);
            shown.enclosing.clear();
            shown.enclosing.push_str(enclosing);
            shown.context = used.context;
            shown.span = used.span;
            shown.in_test = *in_test;
            if keep(crate::facts::Fact::Reference(&shown)) {
                facts.references.push(shown.clone());
            }
        }
        facts
    }

    /// Where a use in the file at `index` leads, and the import its first name came through; `None`
    /// when nothing the module binds names it.
    fn resolve_use(
        &self,
        index: usize,
        used: &super::read::Use,
        local_imports: &HashMap<&str, &str>,
    ) -> Option<(String, Option<String>)> {
        let first = used.first();
        let (base, via_import) = match self.bindings[index].get(first) {
            Some(Binding::Import(target)) => (target.clone(), Some(target.clone())),
            Some(Binding::Defined) => (join_path(&self.files[index].module, first), None),
            Some(Binding::Alias(_)) => (self.resolve_in(index, &[first.to_owned()], 0)?, None),
            None => {
                let target = local_imports.get(first)?;
                ((*target).to_owned(), Some((*target).to_owned()))
            }
        };
        let mut written = base;
        for segment in used.rest() {
            written.push_str("::");
            written.push_str(segment);
        }
        Some((self.follow(&written), via_import))
    }

    /// The module-level names of `file` that hold state, as definitions with what makes them state.
    fn state<'s>(&'s self, file: &'s ReadFile) -> impl Iterator<Item = Definition> + 's {
        let index = self.modules.get(file.module.as_str()).copied();
        file.state.iter().filter_map(move |candidate| {
            let why = match (&candidate.why, &candidate.instance_of) {
                (Some(why), _) => why.clone(),
                (None, Some(chain)) => {
                    let class = self.follow(&self.resolve_in(index?, chain, 0)?);
                    if !self.classes.contains(class.as_str()) {
                        return None;
                    }
                    format!(
                        "module-level `{}` holds one `{}` for every caller: a singleton in a module global",
                        candidate.name,
                        class.rsplit("::").next().unwrap_or(&class)
                    )
                }
                (None, None) => return None,
            };
            Some(Definition {
                kind: DefinitionKind::Static,
                name: candidate.name.clone(),
                path: join_path(&file.module, &candidate.name),
                span: candidate.span,
                attributes: Vec::new(),
                in_test: candidate.in_test,
                local: false,
                implements: None,
                self_type: None,
                variants: Vec::new(),
                static_facts: Some(StaticFacts {
                    mutable: true,
                    type_paths: Vec::new(),
                    described: Some(why),
                }),
                cfg: None,
                generated_by: None,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::layout::ModulePlace;
    use super::super::read::read;
    use super::*;

    fn file(module: &str, package: bool, text: &str) -> ReadFile {
        let place = ModulePlace {
            segments: module.split('.').map(str::to_owned).collect(),
            package,
        };
        read(text, &place, false)
    }

    #[test]
    fn imports_lead_through_init_reexports_aliases_and_stars_to_the_definition() {
        let files = [
            file("app", true, "from .ws import Router as R\nfrom .star import *\n"),
            file("app.ws", true, "from .router import MessageRouter as Router\n"),
            file(
                "app.ws.router",
                false,
                "class MessageRouter: pass\nLegacyRouter = MessageRouter\n",
            ),
            file(
                "app.star",
                false,
                "__all__ = ['Exported']\nclass Exported: pass\nclass Hidden: pass\n",
            ),
            file(
                "app.main",
                false,
                "from app import R\nfrom app.ws.router import LegacyRouter\nimport app.ws\nfrom app import Exported, Hidden\n\
                 def f():\n    app.ws.Router()\n",
            ),
        ];
        let refs: Vec<&ReadFile> = files.iter().collect();
        let index = Index::new(&refs);
        let facts = index.facts(4, &|_| true);
        let targets: Vec<&str> = facts.imports.iter().map(|i| i.target.as_str()).collect();
        assert_eq!(
            targets,
            [
                "app::ws::router::MessageRouter",
                "app::ws::router::MessageRouter",
                "app::ws",
                "app::star::Exported",
                "app::Hidden",
            ]
        );
        let used: Vec<&str> = facts.references.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(used, ["app::ws::router::MessageRouter"]);
        let init = index.facts(0, &|_| true);
        assert!(init.imports.iter().all(|i| i.reexport), "{:?}", init.imports);
    }

    #[test]
    fn a_module_global_instance_of_a_workspace_class_is_state() {
        let files = [
            file("app.manager", false, "class Manager: pass\n"),
            file(
                "app.globals",
                false,
                "import logging\nfrom app.manager import Manager\nmanager = Manager()\nlog = logging.getLogger()\n",
            ),
        ];
        let refs: Vec<&ReadFile> = files.iter().collect();
        let index = Index::new(&refs);
        let facts = index.facts(1, &|_| true);
        let state: Vec<&str> = facts.definitions.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(state, ["manager"]);
    }
}
