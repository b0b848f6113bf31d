//! The collector: walks syn's syntax tree, one item at a time, into raw facts whose paths are still as
//! written (see `raw`). The syntax tree is dropped as soon as an item is collected.

use rustc_hash::FxHashSet as HashSet;

use proc_macro2::Span as TokenSpan;

use super::macro_rules::MacroRules;
use super::prune;
use syn::ext::IdentExt;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::visit::{self, Visit};

use super::super::raw;
use super::super::raw::{
    ParsedFile, RawDefinition, RawImport, RawModule, RawPath, RawReference, Scope, ScopeKind, leaf_segments, root_scope,
};
use super::super::text::cfg;
use crate::facts::{DefinitionKind, ReferenceContext, Span};
use crate::frontend::lines::LineTable;

/// Walks the syntax tree, keeping the scope, enclosing item and test context it is in.
pub(super) struct Collector<'t> {
    out: ParsedFile,
    /// The text syn saw (this piece of it), for byte offsets.
    lines: LineTable<'t>,
    /// Index in `out.enclosings` of `enclosing`, once some reference needed it.
    enclosing_index: Option<u32>,
    /// Bytes before the text syn saw (a byte-order mark, and the pieces before this one).
    offset: usize,
    /// Lines before the text syn saw (the pieces before this one).
    line_offset: u32,
    scope: usize,
    enclosing: Vec<String>,
    in_test: bool,
    /// The `cfg` predicates of the items being visited, outermost first (each item's own included).
    cfg: Vec<String>,
    /// The workspace's `macro_rules!`, when invocations are expanded.
    macros: Option<&'t dyn MacroSource>,
    /// The expansions being visited, innermost last: where each generated definition came from.
    generated: Vec<String>,
    /// The macros compiled so far for this file, by where they are defined (`None`: not readable).
    compiled: std::collections::HashMap<String, Option<std::rc::Rc<MacroRules>>>,
}

/// Expansions inside expansions deeper than this are not followed (a recursion is counted as not seen
/// into, never a hang): rustc's default `recursion_limit`, which token-munching macros are written for.
const MAX_EXPANSION_DEPTH: usize = 128;

/// Where a reader finds the workspace's `macro_rules!` for an invocation, by the path written.
pub(crate) trait MacroSource: Sync {
    /// The definition an invocation of `path` expands, if the workspace has it.
    fn find(&self, path: &[String], in_test: bool) -> Option<FoundMacro<'_>>;

    /// The words something must mention for a rule to find it, in test code or not: a macro whose own
    /// rules mention none is expanded only when what it is given does.
    fn words(&self, in_test: bool) -> &crate::frontend::BodyWords;

    /// Whether the generated function bodies that mention no word may be left unread: the file's own
    /// were (see `prune`).
    fn prunes_bodies(&self) -> bool;
}

/// What became of an invocation of a workspace macro.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expansion {
    /// Expanded, and its items visited.
    Done,
    /// A workspace macro whose output no rule can use here: read as written, not counted as unseen.
    Unneeded,
    /// Not the workspace's, or the expansion failed: read as written.
    Unavailable,
}

/// A `macro_rules!` definition found for an invocation.
pub(crate) struct FoundMacro<'m> {
    /// The tokens of its rules, as text.
    pub rules: &'m str,
    /// Where it is defined, for messages: "`handler!` (defined at src/lib.rs:4)".
    pub origin: &'m str,
    /// What `$crate` stands for where it is invoked: `crate`, or the defining crate's name.
    pub dollar_crate: &'m str,
    /// Its rules (or those of the macros it invokes) can make something a rule finds, in test code or not.
    pub matters: bool,
}

impl<'t> Collector<'t> {
    /// A collector for `text`, which starts `offset` bytes into the file.
    pub fn new(text: &'t str, offset: usize) -> Self {
        Collector {
            lines: LineTable::new(text),
            enclosing_index: None,
            offset,
            line_offset: 0,
            out: ParsedFile {
                scopes: vec![root_scope()],
                ..ParsedFile::default()
            },
            scope: 0,
            enclosing: Vec::new(),
            in_test: false,
            cfg: Vec::new(),
            macros: None,
            generated: Vec::new(),
            compiled: std::collections::HashMap::new(),
        }
    }

    /// The same collector, expanding the invocations of `macros`.
    pub fn expanding(self, macros: &'t dyn MacroSource) -> Self {
        Collector {
            macros: Some(macros),
            ..self
        }
    }

    fn span(&self, span: TokenSpan) -> Span {
        let (start, end) = (span.start(), span.end());
        Span {
            line: start.line as u32 + self.line_offset,
            column: start.column as u32 + 1,
            start: self.offset + self.lines.byte(start.line, start.column),
            end: self.offset + self.lines.byte(end.line, end.column),
        }
    }

    /// The text starts this many lines into the file (a piece after others).
    pub fn set_line_offset(&mut self, lines: u32) {
        self.line_offset = lines;
    }

    /// Notes the file's inner attributes (`#![cfg(..)]` compiles the whole module under a predicate).
    pub fn inner_attributes(&mut self, attrs: &[syn::Attribute]) {
        self.out.inner_cfg = cfg::all_of(&cfg_predicates(attrs));
    }

    /// Runs `body` with the `cfg` of `attrs` added to those of the enclosing items.
    fn with_cfg(&mut self, attrs: &[syn::Attribute], body: impl FnOnce(&mut Self)) {
        let depth = self.cfg.len();
        self.cfg.extend(cfg_predicates(attrs));
        body(self);
        self.cfg.truncate(depth);
    }

    /// The facts collected.
    pub fn finish(self) -> ParsedFile {
        self.out
    }

    fn open_scope(&mut self, kind: ScopeKind, name: Option<&str>) -> usize {
        let mut rel_path = self.out.scopes[self.scope].rel_path.clone();
        rel_path.extend(name.map(str::to_owned));
        self.out.scopes.push(Scope {
            parent: Some(self.scope),
            kind,
            rel_path,
            items: HashSet::default(),
        });
        self.out.scopes.len() - 1
    }

    /// Runs `body` inside scope `scope` with `name` pushed on the enclosing item path.
    fn within(&mut self, scope: usize, name: Option<&str>, in_test: bool, body: impl FnOnce(&mut Self)) {
        let saved = (self.scope, self.in_test, self.enclosing.len(), self.enclosing_index);
        self.scope = scope;
        self.in_test = in_test;
        if let Some(name) = name {
            self.enclosing.push(name.to_owned());
            self.enclosing_index = None;
        }
        body(self);
        self.scope = saved.0;
        self.in_test = saved.1;
        self.enclosing.truncate(saved.2);
        self.enclosing_index = saved.3;
    }

    fn local(&self) -> bool {
        let mut scope = Some(self.scope);
        while let Some(id) = scope {
            match self.out.scopes[id].kind {
                ScopeKind::Block => return true,
                ScopeKind::Module(_) => return false,
                ScopeKind::SelfType(_) => scope = self.out.scopes[id].parent,
            }
        }
        false
    }

    fn define(&mut self, kind: DefinitionKind, ident: &syn::Ident, attrs: &[syn::Attribute]) -> &mut RawDefinition {
        self.define_named(kind, ident.unraw().to_string(), ident.span(), attrs)
    }

    fn define_named(
        &mut self,
        kind: DefinitionKind,
        name: String,
        span: TokenSpan,
        attrs: &[syn::Attribute],
    ) -> &mut RawDefinition {
        if !matches!(kind, DefinitionKind::Method | DefinitionKind::Impl) {
            self.out.scopes[self.scope].items.insert(name.clone());
        }
        let definition = RawDefinition {
            scope: self.scope,
            kind,
            name,
            span: self.span(span),
            attributes: attribute_paths(attrs),
            in_test: self.in_test || is_test_item(attrs),
            local: self.local(),
            implements: None,
            self_type: None,
            variants: Vec::new(),
            static_type: None,
            cfg: cfg::all_of(&self.cfg),
            generated_by: self.generated.first().cloned(),
        };
        self.out.definitions.push(definition);
        self.out.definitions.last_mut().expect("just pushed")
    }

    /// The index of the current enclosing item path, added to the table on first use.
    fn enclosing_id(&mut self) -> u32 {
        if let Some(index) = self.enclosing_index {
            return index;
        }
        self.out.enclosings.push(self.enclosing.clone());
        let index = u32::try_from(self.out.enclosings.len() - 1).unwrap_or(u32::MAX);
        self.enclosing_index = Some(index);
        index
    }

    /// Records a qualified path. A lone identifier in a type or an expression (a local variable, a
    /// name brought in by a `use`) is not recorded: the item or import it names is its own fact, and
    /// such identifiers are most of a program's paths.
    fn reference(&mut self, path: &syn::Path, context: ReferenceContext) {
        let lone = path.leading_colon.is_none() && path.segments.len() == 1;
        if lone && matches!(context, ReferenceContext::Expr | ReferenceContext::Type) {
            return;
        }
        let enclosing = self.enclosing_id();
        self.out.references.push(RawReference {
            scope: self.scope,
            path: raw_path(path),
            context,
            maybe_binding: false,
            enclosing,
            span: self.span(path.span()),
            in_test: self.in_test,
        });
    }

    fn use_tree(&mut self, tree: &syn::UseTree, prefix: &mut Vec<String>, leading_colon: bool, reexport: bool) {
        let push = |this: &mut Self, segments: Vec<String>, binding: Option<String>, glob: bool, span: TokenSpan| {
            this.out.imports.push(RawImport {
                scope: this.scope,
                path: RawPath {
                    leading_colon,
                    segments,
                },
                binding,
                glob,
                reexport,
                extern_crate: false,
                span: this.span(span),
                in_test: this.in_test,
                cfg: cfg::all_of(&this.cfg),
            });
        };
        match tree {
            syn::UseTree::Path(path) => {
                prefix.push(path.ident.unraw().to_string());
                self.use_tree(&path.tree, prefix, leading_colon, reexport);
                prefix.pop();
            }
            syn::UseTree::Name(name) => {
                let ident = name.ident.unraw().to_string();
                let (segments, binding) = leaf_segments(prefix, ident);
                push(self, segments, binding, false, name.ident.span());
            }
            syn::UseTree::Rename(rename) => {
                let (segments, _) = leaf_segments(prefix, rename.ident.unraw().to_string());
                let binding = Some(rename.rename.unraw().to_string()).filter(|b| b != "_");
                push(self, segments, binding, false, rename.rename.span());
            }
            syn::UseTree::Glob(glob) => push(self, prefix.clone(), None, true, glob.star_token.span()),
            syn::UseTree::Group(group) => {
                for tree in &group.items {
                    self.use_tree(tree, prefix, leading_colon, reexport);
                }
            }
        }
    }

    /// Visits a function's signature and body, the body in a block scope of its own.
    fn function(&mut self, name: &str, attrs: &[syn::Attribute], sig: &syn::Signature, block: Option<&syn::Block>) {
        let in_test = self.in_test || is_test_item(attrs);
        let scope = self.open_scope(ScopeKind::Block, Some(name));
        self.within(scope, Some(name), in_test, |this| {
            this.visit_signature(sig);
            if let Some(block) = block {
                this.declare_block_items(block);
                for stmt in &block.stmts {
                    this.visit_stmt(stmt);
                }
            }
        });
    }

    /// Items in a block are visible in the whole block, so their names are known before its statements.
    fn declare_block_items(&mut self, block: &syn::Block) {
        for stmt in &block.stmts {
            if let syn::Stmt::Item(item) = stmt
                && let Some(ident) = item_ident(item)
            {
                self.out.scopes[self.scope].items.insert(ident);
            }
        }
    }

    /// Macro bodies are not expanded; those that read as a list of expressions (`vec!`, `println!`,
    /// `assert_eq!`, ...) are visited as such, so a path inside them still counts.
    /// A macro in item position: `cfg_if!` branches read under their predicates; a body that parses as
    /// items (`cfg_rt! { pub struct Runtime; }`, `pin_project! { .. }`) read as if written here; any
    /// other body as an expression list. The state macros (`thread_local!`, `lazy_static!`) are
    /// reported as such, so their statics are not read a second time.
    fn item_macro(&mut self, mac: &syn::Macro, item: std::ops::Range<usize>) {
        let name = macro_name(mac);
        // What an expansion invokes is that expansion's business, not the file's.
        if self.generated.is_empty() {
            self.out.note_item_macro_call(raw::RawInvocation {
                name: name.clone(),
                range: item,
                top_level: self.scope == 0,
                quiet: false,
                in_test: self.in_test,
            });
        }
        if matches!(name.as_str(), "thread_local" | "lazy_static") {
            return self.macro_body(mac);
        }
        let expansion = self.expand(mac);
        if expansion == Expansion::Done {
            return;
        }
        if name == "cfg_if"
            && let Ok(branches) = mac.parse_body_with(parse_cfg_if)
        {
            self.reference(&mac.path, ReferenceContext::Macro);
            let mut earlier: Vec<String> = Vec::new();
            for (condition, items) in &branches {
                let condition = condition
                    .as_ref()
                    .and_then(|tokens| cfg::canonical(&tokens.to_string()));
                // A branch is taken when its condition holds and no earlier one did.
                let mut holds: Vec<String> = earlier.iter().map(|e| format!("not({e})")).collect();
                holds.extend(condition.clone());
                let depth = self.cfg.len();
                self.cfg.extend(cfg::all_of(&holds));
                for item in items {
                    self.visit_item(item);
                }
                self.cfg.truncate(depth);
                earlier.extend(condition);
            }
            return;
        }
        match mac.parse_body_with(parse_items) {
            Ok(items) if !items.is_empty() => {
                self.reference(&mac.path, ReferenceContext::Macro);
                // What the macro puts on its items is known once every file's macros are (a flag for it).
                self.cfg.push(raw::macro_flag(&name));
                for item in &items {
                    self.visit_item(item);
                }
                self.cfg.pop();
            }
            _ => {
                // Test code is not counted, so what it does not show is not either.
                if !self.in_test && expansion != Expansion::Unneeded && !raw::ITEMLESS_MACROS.contains(&name.as_str()) {
                    let at = mac.path.segments.first().map_or(0, |s| self.span(s.ident.span()).start);
                    self.out.opaque_macro_calls.push((name, at));
                }
                self.macro_body(mac)
            }
        }
    }

    /// The bytes of a macro invocation item in the file, attributes included.
    fn item_range(&self, item: &syn::ItemMacro) -> std::ops::Range<usize> {
        let first = match item.attrs.first() {
            Some(attribute) => attribute.pound_token.span,
            None => match (&item.mac.path.leading_colon, item.mac.path.segments.first()) {
                (Some(colon), _) => colon.spans[0],
                (None, Some(segment)) => segment.ident.span(),
                (None, None) => item.mac.bang_token.span,
            },
        };
        let last = match (&item.semi_token, &item.mac.delimiter) {
            (Some(semi), _) => semi.span,
            (None, syn::MacroDelimiter::Paren(p)) => p.span.close(),
            (None, syn::MacroDelimiter::Brace(b)) => b.span.close(),
            (None, syn::MacroDelimiter::Bracket(b)) => b.span.close(),
        };
        self.span(first).start..self.span(last).end
    }

    /// Expands an invocation of a workspace `macro_rules!` and visits the items it makes, when a rule
    /// can use them.
    fn expand(&mut self, mac: &syn::Macro) -> Expansion {
        let Some(macros) = self.macros else {
            return Expansion::Unavailable;
        };
        let path: Vec<String> = mac.path.segments.iter().map(|s| s.ident.to_string()).collect();
        let Some(found) = macros.find(&path, self.in_test) else {
            return Expansion::Unavailable;
        };
        let words = macros.words(self.in_test);
        if !found.matters && words.skips_bodies() && !prune::may_matter(&mac.tokens, words) {
            return Expansion::Unneeded;
        }
        if self.generated.len() >= MAX_EXPANSION_DEPTH {
            return Expansion::Unavailable;
        }
        let span = mac
            .path
            .segments
            .last()
            .map_or_else(TokenSpan::call_site, |s| s.ident.span());
        let rules = self
            .compiled
            .entry(found.origin.to_owned())
            .or_insert_with(|| {
                let tokens = found.rules.parse::<proc_macro2::TokenStream>().ok()?;
                MacroRules::parse(tokens).ok().map(std::rc::Rc::new)
            })
            .clone();
        let expanded = rules
            .and_then(|rules| rules.expand(mac.tokens.clone(), span, found.dollar_crate).ok())
            .map(|tokens| match macros.prunes_bodies() {
                // Every word, test code's included: generated code can hold a test module.
                true => prune::prune_bodies(tokens, macros.words(false)),
                false => tokens,
            })
            .and_then(|tokens| syn::parse::Parser::parse2(parse_items, tokens).ok());
        let Some(items) = expanded else {
            return Expansion::Unavailable;
        };
        self.reference(&mac.path, ReferenceContext::Macro);
        self.generated.push(found.origin.to_owned());
        for item in &items {
            self.visit_item(item);
        }
        self.generated.pop();
        Expansion::Done
    }

    fn macro_body(&mut self, mac: &syn::Macro) {
        self.reference(&mac.path, ReferenceContext::Macro);
        let name = macro_name(mac);
        if matches!(name.as_str(), "matches" | "assert_matches" | "debug_assert_matches")
            && let Ok((expr, pat, guard)) = mac.parse_body_with(parse_matches_body)
        {
            self.visit_expr(&expr);
            self.visit_pat(&pat);
            if let Some(guard) = &guard {
                self.visit_expr(guard);
            }
            return;
        }
        if let Ok(exprs) = mac.parse_body_with(Punctuated::<syn::Expr, syn::Token![,]>::parse_terminated) {
            for expr in &exprs {
                self.visit_expr(expr);
            }
        }
    }
}

/// The `cfg` a `macro_rules!` body puts on the items it is given, when it is one rule that only wraps
/// them in attributes: `($($item:item)*) => { $( #[cfg(feature = "rt")] #[..] $item )* }`. `Some(None)`
/// for a wrapper without a `cfg`, `None` for any other macro.
fn item_wrapper_cfg(body: &proc_macro2::TokenStream) -> Option<Option<String>> {
    use proc_macro2::{Delimiter, TokenTree};
    let tokens: Vec<TokenTree> = body.clone().into_iter().collect();
    // `( matcher ) => { transcriber }`, with an optional `;` after it.
    let (matcher, transcriber) = match tokens.as_slice() {
        [
            TokenTree::Group(m),
            TokenTree::Punct(eq),
            TokenTree::Punct(gt),
            TokenTree::Group(t),
            rest @ ..,
        ] if eq.as_char() == '='
            && gt.as_char() == '>'
            && rest
                .iter()
                .all(|r| matches!(r, TokenTree::Punct(p) if p.as_char() == ';')) =>
        {
            (m.stream(), t.stream())
        }
        _ => return None,
    };
    // The matcher: `$( $name:item )*`.
    let matcher: Vec<TokenTree> = matcher.into_iter().collect();
    let name = match matcher.as_slice() {
        [TokenTree::Punct(d), TokenTree::Group(g), TokenTree::Punct(star)]
            if d.as_char() == '$' && star.as_char() == '*' && g.delimiter() == Delimiter::Parenthesis =>
        {
            let inner: Vec<TokenTree> = g.stream().into_iter().collect();
            match inner.as_slice() {
                [
                    TokenTree::Punct(d),
                    TokenTree::Ident(name),
                    TokenTree::Punct(colon),
                    TokenTree::Ident(kind),
                ] if d.as_char() == '$' && colon.as_char() == ':' && kind == "item" => name.to_string(),
                _ => return None,
            }
        }
        _ => return None,
    };
    // The transcriber: `$( attributes $name )*`.
    let transcriber: Vec<TokenTree> = transcriber.into_iter().collect();
    let [TokenTree::Punct(d), TokenTree::Group(g), TokenTree::Punct(star)] = transcriber.as_slice() else {
        return None;
    };
    if d.as_char() != '$' || star.as_char() != '*' || g.delimiter() != Delimiter::Parenthesis {
        return None;
    }
    let mut inner: Vec<TokenTree> = g.stream().into_iter().collect();
    match inner.as_slice() {
        [.., TokenTree::Punct(d), TokenTree::Ident(last)] if d.as_char() == '$' && *last == name => {
            inner.truncate(inner.len() - 2);
        }
        _ => return None,
    }
    let parse_attributes = |input: syn::parse::ParseStream<'_>| input.call(syn::Attribute::parse_outer);
    let attributes = syn::parse::Parser::parse2(parse_attributes, inner.into_iter().collect()).ok()?;
    Some(cfg::all_of(&cfg_predicates(&attributes)))
}

/// The name a macro is invoked by: the last segment of its path.
fn macro_name(mac: &syn::Macro) -> String {
    mac.path
        .segments
        .last()
        .map(|s| s.ident.to_string())
        .unwrap_or_default()
}

/// A macro body that is a sequence of items.
fn parse_items(input: syn::parse::ParseStream<'_>) -> syn::Result<Vec<syn::Item>> {
    let mut items = Vec::new();
    while !input.is_empty() {
        items.push(input.parse()?);
    }
    Ok(items)
}

/// The body of `cfg_if!`: `if #[cfg(p)] { items } else if #[cfg(q)] { items } else { items }`, as each
/// branch's condition (the tokens inside `cfg(..)`; `None` for `else`) and items.
fn parse_cfg_if(
    input: syn::parse::ParseStream<'_>,
) -> syn::Result<Vec<(Option<proc_macro2::TokenStream>, Vec<syn::Item>)>> {
    let mut branches = Vec::new();
    loop {
        input.parse::<syn::Token![if]>()?;
        let attributes = input.call(syn::Attribute::parse_outer)?;
        let condition = match attributes.as_slice() {
            [attribute] if attribute.path().is_ident("cfg") => attribute.meta.require_list()?.tokens.clone(),
            _ => return Err(input.error("expected one `#[cfg(..)]`")),
        };
        let content;
        syn::braced!(content in input);
        branches.push((Some(condition), parse_items(&content)?));
        if input.parse::<Option<syn::Token![else]>>()?.is_none() {
            break;
        }
        if !input.peek(syn::Token![if]) {
            let content;
            syn::braced!(content in input);
            branches.push((None, parse_items(&content)?));
            break;
        }
    }
    Ok(branches)
}

/// The body of `matches!(expr, pattern if guard)`: the pattern is a pattern, not an expression.
fn parse_matches_body(input: syn::parse::ParseStream<'_>) -> syn::Result<(syn::Expr, syn::Pat, Option<syn::Expr>)> {
    let expr: syn::Expr = input.parse()?;
    input.parse::<syn::Token![,]>()?;
    let pat = syn::Pat::parse_multi_with_leading_vert(input)?;
    let guard = if input.peek(syn::Token![if]) {
        input.parse::<syn::Token![if]>()?;
        Some(input.parse()?)
    } else {
        None
    };
    input.parse::<Option<syn::Token![,]>>()?;
    Ok((expr, pat, guard))
}

/// A syn path as written.
fn raw_path(path: &syn::Path) -> RawPath {
    RawPath {
        leading_colon: path.leading_colon.is_some(),
        segments: path.segments.iter().map(|s| s.ident.unraw().to_string()).collect(),
    }
}

fn item_ident(item: &syn::Item) -> Option<String> {
    let ident = match item {
        syn::Item::Const(i) => &i.ident,
        syn::Item::Enum(i) => &i.ident,
        syn::Item::Fn(i) => &i.sig.ident,
        syn::Item::Mod(i) => &i.ident,
        syn::Item::Static(i) => &i.ident,
        syn::Item::Struct(i) => &i.ident,
        syn::Item::Trait(i) => &i.ident,
        syn::Item::TraitAlias(i) => &i.ident,
        syn::Item::Type(i) => &i.ident,
        syn::Item::Union(i) => &i.ident,
        syn::Item::Macro(i) => i.ident.as_ref()?,
        _ => return None,
    };
    Some(ident.unraw().to_string())
}

/// The path of every attribute, as written (`cfg`, `derive`, `tokio::main`).
fn attribute_paths(attrs: &[syn::Attribute]) -> Vec<String> {
    attrs
        .iter()
        .map(|attr| {
            let segments: Vec<String> = attr
                .path()
                .segments
                .iter()
                .map(|s| s.ident.unraw().to_string())
                .collect();
            segments.join("::")
        })
        .collect()
}

/// `#[cfg(test)]` (also inside `all(...)`/`any(...)`, not under `not(...)`), or a test function
/// attribute such as `#[test]` or `#[tokio::test]`.
fn is_test_item(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|attr| {
        let path = attr.path();
        if path.segments.last().is_some_and(|s| s.ident == "test") {
            return true;
        }
        if !path.is_ident("cfg") {
            return false;
        }
        let syn::Meta::List(list) = &attr.meta else {
            return false;
        };
        cfg_mentions_test(list.tokens.clone())
    })
}

fn cfg_mentions_test(tokens: proc_macro2::TokenStream) -> bool {
    let mut previous_was_not = false;
    for token in tokens {
        match token {
            proc_macro2::TokenTree::Ident(ident) => {
                if ident == "test" {
                    return true;
                }
                previous_was_not = ident == "not";
            }
            proc_macro2::TokenTree::Group(group) => {
                if !previous_was_not && cfg_mentions_test(group.stream()) {
                    return true;
                }
                previous_was_not = false;
            }
            _ => {}
        }
    }
    false
}

fn path_attribute(attrs: &[syn::Attribute]) -> Option<String> {
    attrs.iter().find_map(|attr| match &attr.meta {
        syn::Meta::NameValue(nv) if nv.path.is_ident("path") => match &nv.value {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s), ..
            }) => Some(s.value()),
            _ => None,
        },
        _ => None,
    })
}

/// The `#[cfg_attr(predicate, path = "...")]` of a `mod` declaration (see `text::cfg`).
fn cfg_paths(attrs: &[syn::Attribute]) -> Vec<(String, String)> {
    attrs
        .iter()
        .filter(|attr| attr.path().is_ident("cfg_attr"))
        .filter_map(|attr| {
            let syn::Meta::List(list) = &attr.meta else {
                return None;
            };
            cfg::path_of_cfg_attr(&cfg::canonical(&list.tokens.to_string())?)
        })
        .collect()
}

/// Every path named in a type (`LazyLock<Mutex<HashMap<K, V>>>` names four), outermost first.
fn type_paths(ty: &syn::Type) -> Vec<RawPath> {
    struct Paths(Vec<RawPath>);
    impl<'ast> Visit<'ast> for Paths {
        fn visit_type_path(&mut self, node: &'ast syn::TypePath) {
            self.0.push(raw_path(&node.path));
            visit::visit_type_path(self, node);
        }
    }
    let mut paths = Paths(Vec::new());
    paths.visit_type(ty);
    paths.0
}

/// The path of an impl's self type, if it is a path (`impl Trait for Foo<T>` gives `Foo`).
fn self_type_path(ty: &syn::Type) -> Option<RawPath> {
    match ty {
        syn::Type::Path(p) if p.qself.is_none() => Some(raw_path(&p.path)),
        syn::Type::Reference(r) => self_type_path(&r.elem),
        syn::Type::Paren(p) => self_type_path(&p.elem),
        syn::Type::Group(g) => self_type_path(&g.elem),
        _ => None,
    }
}

impl<'ast> Visit<'ast> for Collector<'_> {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        self.with_cfg(item_attrs(item), |this| this.item(item));
    }

    fn visit_stmt_macro(&mut self, node: &'ast syn::StmtMacro) {
        self.with_item_test(&node.attrs, |this| this.macro_body(&node.mac));
    }

    fn visit_expr_macro(&mut self, node: &'ast syn::ExprMacro) {
        self.macro_body(&node.mac);
    }

    fn visit_block(&mut self, block: &'ast syn::Block) {
        if block.stmts.iter().any(|s| matches!(s, syn::Stmt::Item(_))) {
            let scope = self.open_scope(ScopeKind::Block, None);
            self.within(scope, None, self.in_test, |this| {
                this.declare_block_items(block);
                visit::visit_block(this, block);
            });
        } else {
            visit::visit_block(self, block);
        }
    }

    fn visit_type_path(&mut self, node: &'ast syn::TypePath) {
        if node.qself.is_none() {
            self.reference(&node.path, ReferenceContext::Type);
        }
        visit::visit_type_path(self, node);
    }

    fn visit_trait_bound(&mut self, node: &'ast syn::TraitBound) {
        self.reference(&node.path, ReferenceContext::Type);
        visit::visit_trait_bound(self, node);
    }

    fn visit_expr_path(&mut self, node: &'ast syn::ExprPath) {
        if node.qself.is_none() {
            self.reference(&node.path, ReferenceContext::Expr);
        }
        visit::visit_expr_path(self, node);
    }

    fn visit_expr_struct(&mut self, node: &'ast syn::ExprStruct) {
        if node.qself.is_none() {
            self.reference(&node.path, ReferenceContext::Expr);
        }
        visit::visit_expr_struct(self, node);
    }

    fn visit_pat(&mut self, pat: &'ast syn::Pat) {
        match pat {
            syn::Pat::Path(p) if p.qself.is_none() => self.reference(&p.path, ReferenceContext::Pattern),
            syn::Pat::Ident(p) if p.subpat.is_none() && p.by_ref.is_none() && p.mutability.is_none() => {
                let enclosing = self.enclosing_id();
                self.out.references.push(RawReference {
                    scope: self.scope,
                    path: RawPath {
                        leading_colon: false,
                        segments: vec![p.ident.unraw().to_string()],
                    },
                    context: ReferenceContext::Pattern,
                    maybe_binding: true,
                    enclosing,
                    span: self.span(p.ident.span()),
                    in_test: self.in_test,
                });
            }
            _ => visit::visit_pat(self, pat),
        }
    }

    fn visit_pat_tuple_struct(&mut self, node: &'ast syn::PatTupleStruct) {
        if node.qself.is_none() {
            self.reference(&node.path, ReferenceContext::Pattern);
        }
        for elem in &node.elems {
            self.visit_pat(elem);
        }
    }

    fn visit_pat_struct(&mut self, node: &'ast syn::PatStruct) {
        if node.qself.is_none() {
            self.reference(&node.path, ReferenceContext::Pattern);
        }
        for field in &node.fields {
            self.visit_pat(&field.pat);
        }
    }

    fn visit_attribute(&mut self, _: &'ast syn::Attribute) {
        // Attribute arguments are not code; derives and cfgs are recorded on the definition.
    }
}

impl Collector<'_> {
    /// One item: its definition, scopes and what is inside it.
    fn item(&mut self, item: &syn::Item) {
        use DefinitionKind as K;
        match item {
            syn::Item::Struct(i) => {
                self.define(K::Struct, &i.ident, &i.attrs);
                self.with_item_test(&i.attrs, |this| visit::visit_item_struct(this, i));
            }
            syn::Item::Enum(i) => {
                let variants = i.variants.iter().map(|v| v.ident.unraw().to_string()).collect();
                self.define(K::Enum, &i.ident, &i.attrs).variants = variants;
                self.with_item_test(&i.attrs, |this| visit::visit_item_enum(this, i));
            }
            syn::Item::Union(i) => {
                self.define(K::Union, &i.ident, &i.attrs);
                self.with_item_test(&i.attrs, |this| visit::visit_item_union(this, i));
            }
            syn::Item::Type(i) => {
                self.define(K::TypeAlias, &i.ident, &i.attrs);
                self.with_item_test(&i.attrs, |this| visit::visit_item_type(this, i));
            }
            syn::Item::Const(i) => {
                self.define(K::Const, &i.ident, &i.attrs);
                self.with_item_test(&i.attrs, |this| visit::visit_item_const(this, i));
            }
            syn::Item::Static(i) => {
                let mutable = matches!(i.mutability, syn::StaticMutability::Mut(_));
                self.define(K::Static, &i.ident, &i.attrs).static_type = Some((mutable, type_paths(&i.ty)));
                self.with_item_test(&i.attrs, |this| visit::visit_item_static(this, i));
            }
            syn::Item::Fn(i) => {
                let name = i.sig.ident.unraw().to_string();
                self.define(K::Fn, &i.sig.ident, &i.attrs);
                self.function(&name, &i.attrs, &i.sig, Some(&i.block));
            }
            syn::Item::Trait(i) => {
                let name = i.ident.unraw().to_string();
                self.define(K::Trait, &i.ident, &i.attrs);
                let in_test = self.in_test || is_test_item(&i.attrs);
                let own = RawPath {
                    leading_colon: false,
                    segments: vec![name.clone()],
                };
                let scope = self.open_scope(ScopeKind::SelfType(own.clone()), Some(&name));
                self.within(scope, Some(&name), in_test, |this| {
                    for bound in &i.supertraits {
                        this.visit_type_param_bound(bound);
                    }
                    for trait_item in &i.items {
                        if let syn::TraitItem::Fn(f) = trait_item {
                            this.with_cfg(&f.attrs, |this| {
                                let method = f.sig.ident.unraw().to_string();
                                this.define(K::Method, &f.sig.ident, &f.attrs).self_type = Some(own.clone());
                                this.function(&method, &f.attrs, &f.sig, f.default.as_ref());
                            });
                        } else {
                            this.visit_trait_item(trait_item);
                        }
                    }
                });
            }
            syn::Item::Impl(i) => self.visit_impl(i),
            syn::Item::Mod(i) => {
                let name = i.ident.unraw().to_string();
                self.out.scopes[self.scope].items.insert(name.clone());
                let in_test = self.in_test || is_test_item(&i.attrs);
                self.out.modules.push(RawModule {
                    scope: self.scope,
                    name: name.clone(),
                    inline: i.content.is_some(),
                    path_attr: path_attribute(&i.attrs),
                    cfg_paths: cfg_paths(&i.attrs),
                    span: self.span(i.ident.span()),
                    in_test,
                    cfg: cfg::all_of(&self.cfg),
                });
                if let Some((_, items)) = &i.content {
                    let scope = self.open_scope(ScopeKind::Module(Some(name.clone())), Some(&name));
                    self.within(scope, Some(&name), in_test, |this| {
                        for item in items {
                            this.visit_item(item);
                        }
                    });
                }
            }
            syn::Item::Use(i) => {
                let reexport = !matches!(i.vis, syn::Visibility::Inherited);
                let in_test = self.in_test;
                self.with_item_test(&i.attrs, |this| {
                    this.use_tree(&i.tree, &mut Vec::new(), i.leading_colon.is_some(), reexport);
                });
                self.in_test = in_test;
            }
            syn::Item::ExternCrate(i) => {
                let name = i.ident.unraw().to_string();
                let binding = match &i.rename {
                    Some((_, rename)) => rename.unraw().to_string(),
                    None => name.clone(),
                };
                let import = RawImport {
                    reexport: !matches!(i.vis, syn::Visibility::Inherited),
                    in_test: self.in_test || is_test_item(&i.attrs),
                    cfg: cfg::all_of(&self.cfg),
                    ..RawImport::extern_crate(self.scope, name, binding, self.span(i.ident.span()))
                };
                self.out.imports.push(import);
            }
            syn::Item::Macro(i) => {
                if let Some(ident) = &i.ident
                    && i.mac.path.is_ident("macro_rules")
                {
                    self.define(K::Macro, ident, &i.attrs);
                    if let Some(cfg) = item_wrapper_cfg(&i.mac.tokens) {
                        self.out.item_wrappers.push((ident.unraw().to_string(), cfg));
                    }
                    // One a macro generates is known only where that macro is expanded.
                    if self.generated.is_empty() {
                        let (open, close) = match &i.mac.delimiter {
                            syn::MacroDelimiter::Paren(p) => (p.span.open(), p.span.close()),
                            syn::MacroDelimiter::Brace(b) => (b.span.open(), b.span.close()),
                            syn::MacroDelimiter::Bracket(b) => (b.span.open(), b.span.close()),
                        };
                        // The rules as written (both readers keep the same text).
                        let inside = self.span(open).end - self.offset..self.span(close).start - self.offset;
                        let rules = self.lines.text().get(inside).unwrap_or_default().to_owned();
                        self.out.macro_rules.push(raw::RawMacroRules {
                            name: ident.unraw().to_string(),
                            rules,
                            exported: i.attrs.iter().any(|a| a.path().is_ident("macro_export")),
                            span: self.span(ident.span()),
                        });
                    }
                    return;
                }
                let range = self.item_range(i);
                self.with_item_test(&i.attrs, |this| this.item_macro(&i.mac, range));
            }
            _ => visit::visit_item(self, item),
        }
    }

    fn with_item_test(&mut self, attrs: &[syn::Attribute], body: impl FnOnce(&mut Self)) {
        let saved = self.in_test;
        self.in_test = saved || is_test_item(attrs);
        body(self);
        self.in_test = saved;
    }

    fn visit_impl(&mut self, i: &syn::ItemImpl) {
        let self_path = self_type_path(&i.self_ty);
        let type_name = self_path
            .as_ref()
            .and_then(|p| p.segments.last().cloned())
            .unwrap_or_else(|| "_".to_owned());
        let in_test = self.in_test || is_test_item(&i.attrs);
        if let Some((_, trait_path, _)) = &i.trait_ {
            let definition = self.define_named(DefinitionKind::Impl, type_name.clone(), trait_path.span(), &i.attrs);
            definition.implements = Some(raw_path(trait_path));
            definition.self_type = self_path.clone();
        }
        let self_kind = ScopeKind::SelfType(self_path.clone().unwrap_or(RawPath {
            leading_colon: false,
            segments: vec![type_name.clone()],
        }));
        let scope = self.open_scope(self_kind, Some(&type_name));
        self.within(scope, Some(&type_name), in_test, |this| {
            this.visit_generics(&i.generics);
            if let Some((_, trait_path, _)) = &i.trait_ {
                this.reference(trait_path, ReferenceContext::Type);
                for segment in &trait_path.segments {
                    this.visit_path_arguments(&segment.arguments);
                }
            }
            this.visit_type(&i.self_ty);
            for item in &i.items {
                this.with_cfg(impl_item_attrs(item), |this| match item {
                    syn::ImplItem::Fn(f) => {
                        let method = f.sig.ident.unraw().to_string();
                        this.define(DefinitionKind::Method, &f.sig.ident, &f.attrs).self_type = self_path.clone();
                        this.function(&method, &f.attrs, &f.sig, Some(&f.block));
                    }
                    other => this.with_item_test(impl_item_attrs(other), |this| this.visit_impl_item(other)),
                });
            }
        });
    }
}

/// The attributes of any item.
fn item_attrs(item: &syn::Item) -> &[syn::Attribute] {
    match item {
        syn::Item::Const(i) => &i.attrs,
        syn::Item::Enum(i) => &i.attrs,
        syn::Item::ExternCrate(i) => &i.attrs,
        syn::Item::Fn(i) => &i.attrs,
        syn::Item::ForeignMod(i) => &i.attrs,
        syn::Item::Impl(i) => &i.attrs,
        syn::Item::Macro(i) => &i.attrs,
        syn::Item::Mod(i) => &i.attrs,
        syn::Item::Static(i) => &i.attrs,
        syn::Item::Struct(i) => &i.attrs,
        syn::Item::Trait(i) => &i.attrs,
        syn::Item::TraitAlias(i) => &i.attrs,
        syn::Item::Type(i) => &i.attrs,
        syn::Item::Union(i) => &i.attrs,
        syn::Item::Use(i) => &i.attrs,
        _ => &[],
    }
}

/// The canonical predicates of `#[cfg(..)]` and of the `cfg`s inside `#[cfg_attr(..)]` (see `text::cfg`).
fn cfg_predicates(attrs: &[syn::Attribute]) -> Vec<String> {
    attrs
        .iter()
        .filter_map(|attr| {
            let syn::Meta::List(list) = &attr.meta else {
                return None;
            };
            let text = cfg::canonical(&list.tokens.to_string())?;
            if attr.path().is_ident("cfg") {
                Some(text)
            } else if attr.path().is_ident("cfg_attr") {
                cfg::of_cfg_attr(&text)
            } else {
                None
            }
        })
        .collect()
}

fn impl_item_attrs(item: &syn::ImplItem) -> &[syn::Attribute] {
    match item {
        syn::ImplItem::Const(i) => &i.attrs,
        syn::ImplItem::Fn(i) => &i.attrs,
        syn::ImplItem::Type(i) => &i.attrs,
        syn::ImplItem::Macro(i) => &i.attrs,
        _ => &[],
    }
}
