//! One Python file to what it says by itself: its definitions, imports (made absolute, relative ones
//! included), the dotted names its code uses, its module-level state and its suppressions. What those
//! names lead to across files is the resolver's business.
//!
//! Layer invariant: reads the layout and the parser; knows nothing of other files.

use ruff_python_ast::visitor::{self, Visitor};
use ruff_python_ast::{self as ast, CmpOp, Expr, ExprContext, Pattern, Stmt};
use ruff_text_size::{Ranged, TextRange};
use serde::{Deserialize, Serialize};

use super::layout::ModulePlace;
use crate::facts::{Definition, DefinitionKind, FileProblem, ReferenceContext, Span, Suppression};
use crate::frontend::lines::LineTable;
use crate::frontend::suppressions;

/// Base classes that make a class an enumeration.
const ENUM_BASES: [&str; 6] = ["Enum", "IntEnum", "StrEnum", "Flag", "IntFlag", "ReprEnum"];

/// Methods that change the container they are called on.
const MUTATORS: [&str; 14] = [
    "append",
    "add",
    "update",
    "setdefault",
    "pop",
    "popitem",
    "clear",
    "extend",
    "insert",
    "remove",
    "discard",
    "appendleft",
    "popleft",
    "__setitem__",
];

/// Calls that make an empty or filled mutable container.
const CONTAINERS: [&str; 10] = [
    "dict",
    "list",
    "set",
    "defaultdict",
    "OrderedDict",
    "Counter",
    "deque",
    "WeakValueDictionary",
    "WeakKeyDictionary",
    "WeakSet",
];

/// What one file says by itself.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct ReadFile {
    /// The module's dotted segments joined with `::`.
    pub module: String,
    /// A package's `__init__.py`.
    pub package: bool,
    /// Classes and functions, in source order (state is added by the resolver).
    pub definitions: Vec<Definition>,
    /// Import statements, one per imported name.
    pub imports: Vec<ReadImport>,
    /// Dotted names used in code.
    pub uses: Vec<Use>,
    /// The classes, functions and module that hold uses: path, and whether it is test code.
    pub scopes: Vec<(String, bool)>,
    /// Module-level names and what they are bound to.
    pub bindings: Vec<(String, Binding)>,
    /// Module-level names that hold state.
    pub state: Vec<StateCandidate>,
    /// The names `__all__` lists, when it is a literal.
    pub all: Option<Vec<String>>,
    /// Inline suppression comments.
    pub suppressions: Vec<Suppression>,
    /// Why the file could not be read.
    pub problem: Option<FileProblem>,
}

/// One imported name.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct ReadImport {
    /// The absolute path imported (`a::b::c`), or the module of a star import.
    pub path: String,
    /// The name bound: the `as` name, the imported name, or for `import a.b` the first segment `a`.
    pub binding: Option<String>,
    /// What `binding` names: `path`, or for `import a.b` just `a`.
    pub bound_path: String,
    /// `from m import *`.
    pub glob: bool,
    /// Written at module level (not inside a function or class).
    pub module_level: bool,
    /// The span of the imported name.
    pub span: Span,
    /// In test code.
    pub in_test: bool,
}

/// A dotted name used in code (`MessageType.START_AGENT`, `app.ws.router`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Use {
    /// The names, first to last, joined with `.` (one allocation: there are hundreds of thousands).
    pub dotted: Box<str>,
    /// Where it is used.
    pub context: ReferenceContext,
    /// The innermost class or function holding the use, or the module: an index into
    /// [`ReadFile::scopes`].
    pub scope: u32,
    /// The span of the whole name.
    pub span: Span,
}

impl Use {
    /// The first name (`MessageType` of `MessageType.START_AGENT`).
    pub fn first(&self) -> &str {
        self.dotted.split('.').next().unwrap_or_default()
    }

    /// The names after the first.
    pub fn rest(&self) -> impl Iterator<Item = &str> {
        self.dotted.split('.').skip(1)
    }
}

/// What a module-level name is bound to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Binding {
    /// A class, a function or a value defined here.
    Defined,
    /// Another name (`X = Y`, `from m import Y as X`): the dotted chain as written, resolved later.
    Alias(Vec<String>),
    /// An import: the absolute path it binds.
    Import(String),
}

/// A module-level name that may be state shared by every caller.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct StateCandidate {
    /// The name.
    pub name: String,
    /// Where it is bound.
    pub span: Span,
    /// Why it is state, when the file alone says so; `None` when it depends on what `instance_of` is.
    pub why: Option<String>,
    /// The class it holds an instance of (`X = Manager()`), as the dotted chain called.
    pub instance_of: Option<Vec<String>>,
    /// In test code.
    pub in_test: bool,
}

/// Reads one file whose module is `place`; `in_test` for a file of tests.
pub(crate) fn read(text: &str, place: &ModulePlace, in_test: bool) -> ReadFile {
    let module = place.segments.join("::");
    let lines = LineTable::new(text);
    let parsed = match ruff_python_parser::parse_module(text) {
        Ok(parsed) => parsed,
        Err(error) => {
            return ReadFile {
                module,
                package: place.package,
                problem: Some(FileProblem::parse(
                    format!("Python syntax error: {}", error.error),
                    Some(span_of(&lines, error.location)),
                )),
                ..ReadFile::default()
            };
        }
    };
    let mut bindable = std::collections::HashSet::new();
    bindable_names(parsed.suite(), true, &mut bindable);
    let mut reader = Reader {
        lines: &lines,
        place,
        file: ReadFile {
            module: module.clone(),
            package: place.package,
            ..ReadFile::default()
        },
        scopes: vec![Scope {
            path: module,
            kind: ScopeKind::Module,
            in_test,
            globals: Vec::new(),
            index: None,
        }],
        context: ReferenceContext::Expr,
        type_checking: false,
        mutations: Vec::new(),
        rebinds: Vec::new(),
        bindable,
    };
    reader.visit_body(parsed.suite());
    reader.finish_state();
    let mut file = reader.file;
    if text.contains(suppressions::MARKER) {
        let comments: std::collections::HashSet<usize> = parsed
            .tokens()
            .iter()
            .filter(|t| t.kind() == ast::token::TokenKind::Comment)
            .map(|t| t.start().to_usize())
            .collect();
        file.suppressions = suppressions::find_with(text, &suppressions::PYTHON, &|at| comments.contains(&at));
    }
    file
}

/// The span of a range.
fn span_of(lines: &LineTable<'_>, range: TextRange) -> Span {
    let start = range.start().to_usize();
    let (line, column) = lines.position(start);
    Span {
        line,
        column,
        start,
        end: range.end().to_usize(),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ScopeKind {
    Module,
    Class,
    Function,
}

/// A class or function body being read.
struct Scope {
    path: String,
    kind: ScopeKind,
    in_test: bool,
    /// Names a `global` statement in this function declares.
    globals: Vec<String>,
    /// Its index in [`ReadFile::scopes`], once a use in it is recorded.
    index: Option<u32>,
}

/// The walk over one file.
struct Reader<'r, 't> {
    lines: &'r LineTable<'t>,
    place: &'r ModulePlace,
    file: ReadFile,
    scopes: Vec<Scope>,
    /// What a dotted name met now is used as.
    context: ReferenceContext,
    /// Inside `if TYPE_CHECKING:`: definitions here do not exist at run time.
    type_checking: bool,
    /// Module-level names changed in place: name, line, and the function doing it.
    mutations: Vec<(String, u32, String)>,
    /// Module globals rebound through `global`: name, span of the rebinding, function.
    rebinds: Vec<(String, Span, String)>,
    /// Every name the module may bind (see [`bindable_names`]): uses of any other are not collected.
    bindable: std::collections::HashSet<&'r str>,
}

impl Reader<'_, '_> {
    fn scope(&self) -> &Scope {
        // The module scope is never popped.
        &self.scopes[self.scopes.len() - 1]
    }

    fn at_module_level(&self) -> bool {
        self.scope().kind == ScopeKind::Module
    }

    fn in_test(&self) -> bool {
        self.scope().in_test
    }

    fn span(&self, range: TextRange) -> Span {
        span_of(self.lines, range)
    }

    fn define(&mut self, kind: DefinitionKind, name: &ast::Identifier, decorators: &[ast::Decorator]) -> Definition {
        let scope = self.scope();
        let definition = Definition {
            kind,
            name: name.id.to_string(),
            path: format!("{}::{}", scope.path, name.id),
            span: span_of(self.lines, name.range),
            attributes: decorators
                .iter()
                .filter_map(|d| chain_of(callee(&d.expression)))
                .map(|chain| chain.join("::"))
                .collect(),
            in_test: scope.in_test,
            local: self.scopes.iter().any(|s| s.kind == ScopeKind::Function),
            implements: None,
            self_type: (kind == DefinitionKind::Method).then(|| scope.path.clone()),
            variants: Vec::new(),
            static_facts: None,
            cfg: None,
            generated_by: None,
        };
        if self.at_module_level() {
            self.file.bindings.push((definition.name.clone(), Binding::Defined));
        }
        definition
    }

    fn class(&mut self, class: &ast::StmtClassDef) {
        let bases: Vec<Vec<String>> = class
            .arguments
            .iter()
            .flat_map(|a| a.args.iter())
            .filter_map(chain_of)
            .collect();
        let last = |chain: &Vec<String>| chain.last().cloned().unwrap_or_default();
        let is_enum = bases.iter().any(|b| ENUM_BASES.contains(&last(b).as_str()));
        let is_test = class.name.id.starts_with("Test") || bases.iter().any(|b| last(b).ends_with("TestCase"));
        let mut definition = self.define(
            if is_enum {
                DefinitionKind::Enum
            } else {
                DefinitionKind::Class
            },
            &class.name,
            &class.decorator_list,
        );
        if is_enum {
            definition.variants = class
                .body
                .iter()
                .flat_map(assigned_names)
                .filter(|n| !n.starts_with('_'))
                .collect();
        }
        definition.in_test |= is_test;
        let path = definition.path.clone();
        let in_test = definition.in_test;
        if !self.type_checking {
            self.file.definitions.push(definition);
        }
        for decorator in &class.decorator_list {
            self.visit_decorator(decorator);
        }
        if let Some(arguments) = &class.arguments {
            self.visit_arguments(arguments);
        }
        self.body_of(path, ScopeKind::Class, in_test, &class.body);
    }

    fn function(&mut self, function: &ast::StmtFunctionDef) {
        let kind = match self.scope().kind {
            ScopeKind::Class => DefinitionKind::Method,
            _ => DefinitionKind::Fn,
        };
        let definition = self.define(kind, &function.name, &function.decorator_list);
        let path = definition.path.clone();
        let in_test = definition.in_test;
        if !self.type_checking {
            self.file.definitions.push(definition);
        }
        for decorator in &function.decorator_list {
            self.visit_decorator(decorator);
        }
        if let Some(type_params) = &function.type_params {
            self.visit_type_params(type_params);
        }
        self.visit_parameters(&function.parameters);
        if let Some(returns) = &function.returns {
            self.visit_annotation(returns);
        }
        self.body_of(path, ScopeKind::Function, in_test, &function.body);
    }

    /// Reads the body of the class or function at `path`, as its own scope.
    fn body_of(&mut self, path: String, kind: ScopeKind, in_test: bool, body: &[Stmt]) {
        self.scopes.push(Scope {
            path,
            kind,
            in_test,
            globals: Vec::new(),
            index: None,
        });
        self.visit_body(body);
        self.scopes.pop();
    }

    fn import(&mut self, import: &ast::StmtImport) {
        for alias in &import.names {
            let dotted: Vec<&str> = alias.name.id.split('.').collect();
            let path = dotted.join("::");
            let (binding, bound_path) = match &alias.asname {
                Some(as_name) => (as_name.id.to_string(), path.clone()),
                None => (dotted[0].to_owned(), dotted[0].to_owned()),
            };
            self.add_import(path, Some(binding), bound_path, false, alias.name.range);
        }
    }

    fn import_from(&mut self, import: &ast::StmtImportFrom) {
        let mut base: Vec<String> = match import.level {
            0 => Vec::new(),
            level => {
                let anchor = self.place.anchor();
                let keep = anchor.len().saturating_sub(level as usize - 1);
                anchor[..keep].to_vec()
            }
        };
        if let Some(module) = &import.module {
            base.extend(module.id.split('.').map(str::to_owned));
        }
        let base = base.join("::");
        for alias in &import.names {
            if alias.name.id == "*" {
                self.add_import(base.clone(), None, base.clone(), true, alias.name.range);
                continue;
            }
            let path = crate::facts::join_path(&base, &alias.name.id);
            let binding = alias.asname.as_ref().unwrap_or(&alias.name).id.to_string();
            self.add_import(path.clone(), Some(binding), path, false, alias.name.range);
        }
    }

    fn add_import(&mut self, path: String, binding: Option<String>, bound_path: String, glob: bool, range: TextRange) {
        let module_level = self.at_module_level();
        if module_level && let Some(name) = &binding {
            self.file
                .bindings
                .push((name.clone(), Binding::Import(bound_path.clone())));
        }
        self.file.imports.push(ReadImport {
            path,
            binding,
            bound_path,
            glob,
            module_level,
            span: self.span(range),
            in_test: self.in_test(),
        });
    }

    /// A module-level `name = value`: an alias, a container, an instance, or a plain value.
    fn module_assignment(&mut self, target: &Expr, value: Option<&Expr>) {
        let Expr::Name(name) = target else {
            return;
        };
        let binding = match value.and_then(chain_of) {
            Some(chain) if name.id != "__all__" => Binding::Alias(chain),
            _ => Binding::Defined,
        };
        self.file.bindings.push((name.id.to_string(), binding));
        let Some(value) = value else {
            return;
        };
        if name.id == "__all__" {
            self.file.all = string_list(value);
            return;
        }
        let container = container_of(value);
        let instance_of = match (container, value) {
            (None, Expr::Call(call)) => chain_of(&call.func),
            _ => None,
        };
        if container.is_some() || instance_of.is_some() {
            self.file.state.push(StateCandidate {
                name: name.id.to_string(),
                span: self.span(name.range),
                why: container.map(str::to_owned),
                instance_of,
                in_test: self.in_test(),
            });
        }
    }

    /// Records a change in place of a module-level name (`NAME[k] = v`, `NAME[k].x = v`, `del NAME[k]`).
    fn mutated(&mut self, target: &Expr) {
        let object = match target {
            Expr::Subscript(s) => &s.value,
            Expr::Attribute(a) => &a.value,
            _ => return,
        };
        if let Some(name) = root_name(object) {
            self.mutation(name.id.as_str(), target.range());
        }
    }

    /// Records that `name` is changed in place at `range`, if the module may bind it (a local or
    /// `self` is not module state).
    fn mutation(&mut self, name: &str, range: TextRange) {
        if self.bindable.contains(name) {
            let line = self.span(range).line;
            let at = self.scope().path.clone();
            self.mutations.push((name.to_owned(), line, at));
        }
    }

    /// An assignment to a plain name inside a function that declared it `global`.
    fn rebound(&mut self, target: &Expr) {
        if let Expr::Name(name) = target
            && self.scope().kind == ScopeKind::Function
            && self.scope().globals.iter().any(|g| *g == *name.id)
        {
            let span = self.span(name.range);
            let at = self.scope().path.clone();
            self.rebinds.push((name.id.to_string(), span, at));
        }
    }

    fn assignment_targets(&mut self, targets: &[&Expr], value: Option<&Expr>) {
        for target in targets {
            for target in unpacked(target) {
                if self.at_module_level() {
                    self.module_assignment(target, value);
                }
                self.mutated(target);
                self.rebound(target);
            }
        }
    }

    /// Turns the candidates that the file alone decides into state (the rest wait for the resolver).
    fn finish_state(&mut self) {
        let module = self.file.module.clone();
        let local = |path: &str| {
            path.strip_prefix(&module)
                .map(|p| p.trim_start_matches("::"))
                .unwrap_or(path)
                .replace("::", ".")
        };
        for candidate in &mut self.file.state {
            let Some(kind) = candidate.why.take() else {
                continue;
            };
            if let Some((_, line, at)) = self.mutations.iter().find(|(n, _, _)| *n == candidate.name) {
                let place = match local(at).as_str() {
                    "" => "at module level".to_owned(),
                    function => format!("in `{function}`"),
                };
                candidate.why = Some(format!(
                    "module-level `{}` is a {kind} shared by every caller, changed in place {place} (line {line}): \
                     global mutable state",
                    candidate.name
                ));
            }
        }
        let mut rebound = std::collections::HashSet::new();
        for (name, span, at) in std::mem::take(&mut self.rebinds) {
            if !rebound.insert(name.clone()) {
                continue;
            }
            let bound_here = self.file.state.iter_mut().find(|c| c.name == name);
            let why = format!(
                "module global `{name}` is rebound through `global` in `{}` (line {}): one value shared by every \
                 caller",
                local(&at),
                span.line
            );
            match bound_here {
                Some(candidate) => {
                    candidate.why = Some(why);
                    candidate.instance_of = None;
                }
                None => self.file.state.push(StateCandidate {
                    name,
                    span,
                    why: Some(why),
                    instance_of: None,
                    in_test: self.scopes[0].in_test,
                }),
            }
        }
        self.file.state.retain(|c| c.why.is_some() || c.instance_of.is_some());
    }

    /// Records a dotted name used in code, if `expr` is one; false when it is not.
    fn use_chain(&mut self, expr: &Expr) -> bool {
        let load = match expr {
            Expr::Name(n) => n.ctx == ExprContext::Load,
            Expr::Attribute(a) => a.ctx == ExprContext::Load,
            _ => return false,
        };
        let Some(root) = chain_root(expr) else {
            return false;
        };
        // A name nothing in the module binds leads nowhere the resolver knows: not even collected.
        if load && self.bindable.contains(root) {
            let mut dotted = String::new();
            write_dotted(expr, &mut dotted);
            let dotted = dotted.into_boxed_str();
            let innermost = self.scopes.len() - 1;
            let scope = match self.scopes[innermost].index {
                Some(index) => index,
                None => {
                    let index = self.file.scopes.len() as u32;
                    let scope = &mut self.scopes[innermost];
                    self.file.scopes.push((scope.path.clone(), scope.in_test));
                    scope.index = Some(index);
                    index
                }
            };
            self.file.uses.push(Use {
                dotted,
                context: self.context,
                scope,
                span: span_of(self.lines, expr.range()),
            });
        }
        true
    }

    fn with_context(&mut self, context: ReferenceContext, visit: impl FnOnce(&mut Self)) {
        let outer = std::mem::replace(&mut self.context, context);
        visit(self);
        self.context = outer;
    }
}

impl<'a> Visitor<'a> for Reader<'_, '_> {
    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        match stmt {
            Stmt::ClassDef(class) => self.class(class),
            Stmt::FunctionDef(function) => self.function(function),
            Stmt::Import(import) => self.import(import),
            Stmt::ImportFrom(import) => self.import_from(import),
            Stmt::If(branch) if is_type_checking(&branch.test) => {
                let outer = std::mem::replace(&mut self.type_checking, true);
                self.visit_body(&branch.body);
                self.type_checking = outer;
                for clause in &branch.elif_else_clauses {
                    self.visit_elif_else_clause(clause);
                }
            }
            Stmt::Global(global) => {
                let names = global.names.iter().map(|n| n.id.to_string());
                let scope = self.scopes.len() - 1;
                self.scopes[scope].globals.extend(names);
            }
            Stmt::TypeAlias(alias) => {
                if let Expr::Name(name) = alias.name.as_ref() {
                    let identifier = ast::Identifier::new(name.id.clone(), name.range);
                    let definition = self.define(DefinitionKind::TypeAlias, &identifier, &[]);
                    if !self.type_checking {
                        self.file.definitions.push(definition);
                    }
                }
                self.with_context(ReferenceContext::Type, |r| visitor::walk_stmt(r, stmt));
            }
            Stmt::Assign(assign) => {
                let targets: Vec<&Expr> = assign.targets.iter().collect();
                self.assignment_targets(&targets, Some(&assign.value));
                if self.at_module_level()
                    && let [Expr::Name(name)] = assign.targets.as_slice()
                    && name.id == "__all__"
                {
                    return;
                }
                visitor::walk_stmt(self, stmt);
            }
            Stmt::AnnAssign(assign) => {
                self.assignment_targets(&[&assign.target], assign.value.as_deref());
                visitor::walk_stmt(self, stmt);
            }
            Stmt::AugAssign(assign) => {
                if self.at_module_level()
                    && let Expr::Name(name) = assign.target.as_ref()
                    && name.id == "__all__"
                {
                    let more = string_list(&assign.value).unwrap_or_default();
                    self.file.all.get_or_insert_with(Vec::new).extend(more);
                    return;
                }
                if let Expr::Name(name) = assign.target.as_ref() {
                    self.mutation(name.id.as_str(), name.range);
                }
                self.mutated(&assign.target);
                self.rebound(&assign.target);
                visitor::walk_stmt(self, stmt);
            }
            Stmt::Delete(delete) => {
                for target in &delete.targets {
                    self.mutated(target);
                }
                visitor::walk_stmt(self, stmt);
            }
            _ => visitor::walk_stmt(self, stmt),
        }
    }

    fn visit_expr(&mut self, expr: &'a Expr) {
        if self.use_chain(expr) {
            return;
        }
        match expr {
            Expr::Compare(compare) => {
                let matching = compare.ops.iter().any(|op| {
                    matches!(
                        op,
                        CmpOp::Eq | CmpOp::NotEq | CmpOp::Is | CmpOp::IsNot | CmpOp::In | CmpOp::NotIn
                    )
                });
                let context = if matching {
                    ReferenceContext::Pattern
                } else {
                    self.context
                };
                self.with_context(context, |r| visitor::walk_expr(r, expr));
            }
            Expr::List(_) | Expr::Tuple(_) | Expr::Set(_) => {
                self.with_context(ReferenceContext::Pattern, |r| visitor::walk_expr(r, expr));
            }
            Expr::Dict(dict) => {
                for item in &dict.items {
                    if let Some(key) = &item.key {
                        self.with_context(ReferenceContext::Pattern, |r| r.visit_expr(key));
                    }
                    self.with_context(ReferenceContext::Expr, |r| r.visit_expr(&item.value));
                }
            }
            Expr::Call(call) => {
                if let Expr::Attribute(method) = call.func.as_ref()
                    && MUTATORS.contains(&method.attr.id.as_str())
                    && let Some(name) = root_name(&method.value)
                {
                    if name.id == "__all__" && self.at_module_level() {
                        let more = call.arguments.args.iter().filter_map(string_list).flatten();
                        self.file.all.get_or_insert_with(Vec::new).extend(more);
                    }
                    self.mutation(name.id.as_str(), call.range());
                }
                // Arguments are values, whatever the call is inside of.
                self.with_context(ReferenceContext::Expr, |r| visitor::walk_expr(r, expr));
            }
            Expr::Lambda(_) | Expr::ListComp(_) | Expr::SetComp(_) | Expr::DictComp(_) | Expr::Generator(_) => {
                self.with_context(ReferenceContext::Expr, |r| visitor::walk_expr(r, expr));
            }
            _ => visitor::walk_expr(self, expr),
        }
    }

    fn visit_annotation(&mut self, expr: &'a Expr) {
        self.with_context(ReferenceContext::Type, |r| visitor::walk_annotation(r, expr));
    }

    fn visit_decorator(&mut self, decorator: &'a ast::Decorator) {
        let callee = callee(&decorator.expression);
        self.with_context(ReferenceContext::Attribute, |r| {
            r.use_chain(callee);
        });
        if let Expr::Call(call) = &decorator.expression {
            self.visit_arguments(&call.arguments);
        }
    }

    fn visit_pattern(&mut self, pattern: &'a Pattern) {
        self.with_context(ReferenceContext::Pattern, |r| visitor::walk_pattern(r, pattern));
    }

    fn visit_match_case(&mut self, case: &'a ast::MatchCase) {
        self.visit_pattern(&case.pattern);
        if let Some(guard) = &case.guard {
            self.visit_expr(guard);
        }
        self.visit_body(&case.body);
    }
}

/// Every name a module may bind, a superset of what the reader records as bindings: the classes,
/// functions, type aliases and assigned names at module level (in any compound statement outside a
/// class or function), and every name any import binds, wherever it is.
fn bindable_names<'s>(body: &'s [Stmt], module_level: bool, names: &mut std::collections::HashSet<&'s str>) {
    for stmt in body {
        match stmt {
            Stmt::ClassDef(class) => {
                if module_level {
                    names.insert(class.name.id.as_str());
                }
                bindable_names(&class.body, false, names);
            }
            Stmt::FunctionDef(function) => {
                if module_level {
                    names.insert(function.name.id.as_str());
                }
                bindable_names(&function.body, false, names);
            }
            Stmt::Import(import) => names.extend(import.names.iter().map(|a| match &a.asname {
                Some(as_name) => as_name.id.as_str(),
                None => a.name.id.split('.').next().unwrap_or_default(),
            })),
            Stmt::ImportFrom(import) => {
                names.extend(
                    import
                        .names
                        .iter()
                        .map(|a| a.asname.as_ref().unwrap_or(&a.name).id.as_str()),
                );
            }
            Stmt::Assign(assign) if module_level => {
                for target in assign.targets.iter().flat_map(unpacked) {
                    if let Expr::Name(name) = target {
                        names.insert(name.id.as_str());
                    }
                }
            }
            Stmt::AnnAssign(assign) if module_level => {
                if let Expr::Name(name) = assign.target.as_ref() {
                    names.insert(name.id.as_str());
                }
            }
            Stmt::TypeAlias(alias) if module_level => {
                if let Expr::Name(name) = alias.name.as_ref() {
                    names.insert(name.id.as_str());
                }
            }
            Stmt::If(branch) => {
                bindable_names(&branch.body, module_level, names);
                for clause in &branch.elif_else_clauses {
                    bindable_names(&clause.body, module_level, names);
                }
            }
            Stmt::Try(block) => {
                bindable_names(&block.body, module_level, names);
                for ast::ExceptHandler::ExceptHandler(handler) in &block.handlers {
                    bindable_names(&handler.body, module_level, names);
                }
                bindable_names(&block.orelse, module_level, names);
                bindable_names(&block.finalbody, module_level, names);
            }
            Stmt::With(block) => bindable_names(&block.body, module_level, names),
            Stmt::For(block) => {
                bindable_names(&block.body, module_level, names);
                bindable_names(&block.orelse, module_level, names);
            }
            Stmt::While(block) => {
                bindable_names(&block.body, module_level, names);
                bindable_names(&block.orelse, module_level, names);
            }
            Stmt::Match(block) => {
                for case in &block.cases {
                    bindable_names(&case.body, module_level, names);
                }
            }
            _ => {}
        }
    }
}

/// Writes a pure chain as its dotted text (`a.b.C`), without a list of its names.
fn write_dotted(expr: &Expr, out: &mut String) {
    match expr {
        Expr::Name(name) => out.push_str(name.id.as_str()),
        Expr::Attribute(attribute) => {
            write_dotted(&attribute.value, out);
            out.push('.');
            out.push_str(attribute.attr.id.as_str());
        }
        _ => {}
    }
}

/// The first name of a pure chain (`a` of `a.b.C`), else `None`.
fn chain_root(expr: &Expr) -> Option<&str> {
    match expr {
        Expr::Name(name) => Some(name.id.as_str()),
        Expr::Attribute(attribute) => chain_root(&attribute.value),
        _ => None,
    }
}

/// The dotted names of a pure chain (`a.b.C`), else `None`.
pub(crate) fn chain_of(expr: &Expr) -> Option<Vec<String>> {
    match expr {
        Expr::Name(name) => Some(vec![name.id.to_string()]),
        Expr::Attribute(attribute) => {
            let mut chain = chain_of(&attribute.value)?;
            chain.push(attribute.attr.id.to_string());
            Some(chain)
        }
        _ => None,
    }
}

/// The name a subscript or attribute chain starts from (`USERS` of `USERS[k].sessions`).
fn root_name(expr: &Expr) -> Option<&ast::ExprName> {
    match expr {
        Expr::Name(name) => Some(name),
        Expr::Subscript(s) => root_name(&s.value),
        Expr::Attribute(a) => root_name(&a.value),
        _ => None,
    }
}

/// What a decorator names: the callee of `@x(..)`, else `@x` itself.
fn callee(expr: &Expr) -> &Expr {
    match expr {
        Expr::Call(call) => &call.func,
        other => other,
    }
}

/// The targets of an assignment, tuples and lists unpacked.
fn unpacked(target: &Expr) -> Vec<&Expr> {
    match target {
        Expr::Tuple(t) => t.elts.iter().flat_map(unpacked).collect(),
        Expr::List(l) => l.elts.iter().flat_map(unpacked).collect(),
        Expr::Starred(s) => unpacked(&s.value),
        other => vec![other],
    }
}

/// The plain names a class-body statement binds (`A = 1`, `B: int = 2`, `C, D = 3, 4`).
fn assigned_names(stmt: &Stmt) -> Vec<String> {
    let targets: Vec<&Expr> = match stmt {
        Stmt::Assign(assign) => assign.targets.iter().flat_map(unpacked).collect(),
        Stmt::AnnAssign(assign) if assign.value.is_some() => vec![assign.target.as_ref()],
        _ => Vec::new(),
    };
    targets
        .into_iter()
        .filter_map(|t| match t {
            Expr::Name(n) => Some(n.id.to_string()),
            _ => None,
        })
        .collect()
}

/// `if TYPE_CHECKING:` or `if typing.TYPE_CHECKING:`.
fn is_type_checking(test: &Expr) -> bool {
    chain_of(test).is_some_and(|chain| chain.last().is_some_and(|n| n == "TYPE_CHECKING"))
}

/// The strings of a list or tuple of string literals.
fn string_list(expr: &Expr) -> Option<Vec<String>> {
    let elements = match expr {
        Expr::List(l) => &l.elts,
        Expr::Tuple(t) => &t.elts,
        _ => return None,
    };
    elements
        .iter()
        .map(|e| match e {
            Expr::StringLiteral(s) => Some(s.value.to_str().to_owned()),
            _ => None,
        })
        .collect()
}

/// What sort of mutable container `value` makes, if it makes one.
fn container_of(value: &Expr) -> Option<&'static str> {
    match value {
        Expr::Dict(_) | Expr::DictComp(_) => Some("dict"),
        Expr::List(_) | Expr::ListComp(_) => Some("list"),
        Expr::Set(_) | Expr::SetComp(_) => Some("set"),
        Expr::Call(call) => {
            let chain = chain_of(&call.func)?;
            let last = chain.last()?;
            CONTAINERS.iter().find(|c| **c == last.as_str()).copied()
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(module: &str, package: bool) -> ModulePlace {
        ModulePlace {
            segments: module.split('.').map(str::to_owned).collect(),
            package,
        }
    }

    fn definitions(file: &ReadFile) -> Vec<String> {
        file.definitions
            .iter()
            .map(|d| format!("{} {} {}:{}", d.kind.as_str(), d.path, d.span.line, d.span.column))
            .collect()
    }

    #[test]
    fn classes_and_functions_at_any_depth_are_definitions_aliases_are_not() {
        let text = "\
class Handler:
    def handle(self): pass
    class Inner: pass

def make():
    class Local: pass

try:
    from fast import Router
except ImportError:
    class Router: pass

WebSocketManager = Handler
if TYPE_CHECKING:
    class OnlyForTypes: pass
";
        let file = read(text, &place("app.ws", false), false);
        assert_eq!(
            definitions(&file),
            [
                "class app::ws::Handler 1:7",
                "method app::ws::Handler::handle 2:9",
                "class app::ws::Handler::Inner 3:11",
                "fn app::ws::make 5:5",
                "class app::ws::make::Local 6:11",
                "class app::ws::Router 11:11",
            ]
        );
        assert!(file.definitions[4].local);
        assert!(
            file.bindings
                .contains(&("WebSocketManager".into(), Binding::Alias(vec!["Handler".into()])))
        );
    }

    #[test]
    fn imports_are_made_absolute() {
        let text = "import a.b\nimport a.b as c\nfrom ..m import x as y\nfrom . import z\nfrom .n import *\n";
        let file = read(text, &place("pkg.sub.mod", false), false);
        let imports: Vec<(String, Option<String>, String)> = file
            .imports
            .iter()
            .map(|i| (i.path.clone(), i.binding.clone(), i.bound_path.clone()))
            .collect();
        let expected = [
            ("a::b", Some("a"), "a"),
            ("a::b", Some("c"), "a::b"),
            ("pkg::m::x", Some("y"), "pkg::m::x"),
            ("pkg::sub::z", Some("z"), "pkg::sub::z"),
            ("pkg::sub::n", None, "pkg::sub::n"),
        ];
        let expected: Vec<_> = expected
            .iter()
            .map(|(p, b, t)| (p.to_string(), b.map(str::to_owned), t.to_string()))
            .collect();
        assert_eq!(imports, expected);
        // In a package's `__init__.py`, `.` is the package itself.
        let init = read("from . import z\n", &place("pkg.sub", true), false);
        assert_eq!(init.imports[0].path, "pkg::sub::z");
    }

    #[test]
    fn comparisons_cases_and_collections_are_patterns() {
        let text = "\
from app.protocol import MessageType

def route(m):
    match m.type:
        case MessageType.START: pass
    if m.type == MessageType.CHAT: pass
    handled = [MessageType.STOP]
    return {MessageType.PING: pong}, MessageType.value_of(m)
";
        let file = read(text, &place("app.router", false), false);
        let uses: Vec<(String, ReferenceContext)> = file
            .uses
            .iter()
            .filter(|u| u.first() == "MessageType")
            .map(|u| (u.dotted.to_string(), u.context))
            .collect();
        assert_eq!(
            uses,
            [
                ("MessageType.START".to_owned(), ReferenceContext::Pattern),
                ("MessageType.CHAT".to_owned(), ReferenceContext::Pattern),
                ("MessageType.STOP".to_owned(), ReferenceContext::Pattern),
                ("MessageType.PING".to_owned(), ReferenceContext::Pattern),
                ("MessageType.value_of".to_owned(), ReferenceContext::Expr),
            ]
        );
    }

    #[test]
    fn module_level_containers_changed_in_place_and_rebound_globals_are_state() {
        let text = "\
USERS = {}
CONSTANTS = {'a': 1}
_manager = None
PENDING = defaultdict(list)

def register(u):
    USERS[u.id] = u
    PENDING[u.id].append(u)

def get_manager():
    global _manager
    _manager = Manager()
    return _manager
";
        let file = read(text, &place("app.state", false), false);
        let state: Vec<(&str, bool)> = file.state.iter().map(|s| (s.name.as_str(), s.why.is_some())).collect();
        assert_eq!(state, [("USERS", true), ("PENDING", true), ("_manager", true)]);
        assert!(
            file.state[0]
                .why
                .as_deref()
                .is_some_and(|w| w.contains("in `register` (line 7)")),
            "{:?}",
            file.state
        );
    }

    #[test]
    fn a_file_that_does_not_parse_is_a_parse_error() {
        let file = read("def f(:\n", &place("m", false), false);
        let problem = file.problem.unwrap_or_else(|| panic!("no problem"));
        assert_eq!(problem.kind, crate::facts::ProblemKind::ParseError);
        assert_eq!(problem.span.map(|s| s.line), Some(1));
    }

    #[test]
    fn suppressions_are_read_from_comments_only() {
        let text = "# ssot-check: allow(one-router) reason: moving\n@dataclass\nclass MessageRouter: pass\ns = '# ssot-check: allow(x) reason: y'\n";
        let file = read(text, &place("m", false), false);
        assert_eq!(file.suppressions.len(), 1);
        assert_eq!(file.suppressions[0].target_line, Some(3));
    }
}
