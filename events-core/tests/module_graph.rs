//! The modules of events-core form no import circle: no module uses, directly or through
//! others, a module that uses it back. Read from the sources: every `crate::` path outside
//! comments is an edge from the file's module to the deepest module the path names.
//!
//! A parent declaring and re-exporting its children (`mod x; pub use x::Y;`) is not an
//! edge: only `crate::` paths are, so the check reads the dependency order bottom-up as
//! the restructure issue asks (description and topic types, then media types and events,
//! then the registry, the built-in types, the bus and ingest).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, with its module path (`ingest::tracker`; `lib.rs` is "").
fn modules(root: &Path, dir: &Path, out: &mut BTreeMap<String, PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            modules(root, &path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let relative = path.strip_prefix(root).unwrap().with_extension("");
            let mut parts: Vec<String> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
                parts.pop();
            }
            out.insert(parts.join("::"), path);
        }
    }
}

/// The code of a file without its comments (doc links name modules without using them).
fn code(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let line = match line.find("//") {
            // `//` inside a string ("https://...") is rare in this crate's `crate::` lines;
            // cutting a line there only drops paths, never adds one.
            Some(at) => &line[..at],
            None => line,
        };
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Every path a `crate::` use-tree or expression names, as segment lists.
fn crate_paths(code: &str) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    let bytes = code.as_bytes();
    let mut at = 0;
    while let Some(found) = code[at..].find("crate::") {
        let start = at + found;
        at = start + "crate::".len();
        // `events_crate::` or `$crate::` are not this crate's paths.
        if start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_') {
            continue;
        }
        let (tree, _) = use_tree(code, at);
        for path in tree {
            paths.push(path);
        }
    }
    paths
}

/// Parses a use-tree at `at`: `a::b::{c, d::e}` gives `[a,b,c]` and `[a,b,d,e]`.
fn use_tree(code: &str, mut at: usize) -> (Vec<Vec<String>>, usize) {
    let bytes = code.as_bytes();
    let skip_space = |at: &mut usize| {
        while *at < bytes.len() && bytes[*at].is_ascii_whitespace() {
            *at += 1;
        }
    };
    let mut prefix = Vec::new();
    loop {
        skip_space(&mut at);
        if at < bytes.len() && bytes[at] == b'{' {
            at += 1;
            let mut all = Vec::new();
            loop {
                skip_space(&mut at);
                if at >= bytes.len() || bytes[at] == b'}' {
                    at += 1;
                    break;
                }
                let (inner, next) = use_tree(code, at);
                at = next;
                for path in inner {
                    all.push([prefix.clone(), path].concat());
                }
                skip_space(&mut at);
                if at < bytes.len() && bytes[at] == b',' {
                    at += 1;
                }
            }
            return (all, at);
        }
        let start = at;
        while at < bytes.len() && (bytes[at].is_ascii_alphanumeric() || bytes[at] == b'_') {
            at += 1;
        }
        if start == at {
            return (vec![prefix], at);
        }
        prefix.push(code[start..at].to_owned());
        if code[at..].starts_with("::") {
            at += 2;
        } else {
            return (vec![prefix], at);
        }
    }
}

/// The deepest module of `modules` that `path` names.
fn module_of(path: &[String], modules: &BTreeMap<String, PathBuf>) -> Option<String> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].join("::"))
        .find(|name| modules.contains_key(name))
}

/// The strongly connected components of more than one module (Tarjan's algorithm).
fn circles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'a> {
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        found: Vec<Vec<String>>,
    }
    fn visit<'a>(state: &mut State<'a>, node: &'a str) {
        let n = state.index.len();
        state.index.insert(node, n);
        state.low.insert(node, n);
        state.stack.push(node);
        state.on_stack.insert(node);
        for next in state.edges.get(node).into_iter().flatten() {
            if !state.index.contains_key(next.as_str()) {
                visit(state, next);
                let low = state.low[node].min(state.low[next.as_str()]);
                state.low.insert(node, low);
            } else if state.on_stack.contains(next.as_str()) {
                let low = state.low[node].min(state.index[next.as_str()]);
                state.low.insert(node, low);
            }
        }
        if state.low[node] == state.index[node] {
            let mut component = Vec::new();
            while let Some(top) = state.stack.pop() {
                state.on_stack.remove(top);
                component.push(top.to_owned());
                if top == node {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                state.found.push(component);
            }
        }
    }
    let mut state = State {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for node in edges.keys() {
        if !state.index.contains_key(node.as_str()) {
            visit(&mut state, node);
        }
    }
    state.found
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = BTreeMap::new();
    modules(&root, &root, &mut files);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, path) in &files {
        let text = code(&std::fs::read_to_string(path).unwrap());
        let targets = edges.entry(module.clone()).or_default();
        for used in crate_paths(&text) {
            if let Some(target) = module_of(&used, &files) {
                // A module using itself, or a child using its own parent's re-exports
                // of itself, is no circle.
                if &target != module && !target.is_empty() {
                    targets.insert(target);
                }
            }
        }
    }
    edges
}

#[test]
fn no_module_of_events_core_imports_a_module_that_imports_it_back() {
    let edges = graph();
    let found = circles(&edges);
    assert!(
        found.is_empty(),
        "import circles between modules of events-core: {found:?}\nedges: {edges:#?}"
    );
}

/// The check can fail: a circle made up here is found.
#[test]
fn a_circle_is_found() {
    let edge = |a: &str, b: &str| (a.to_owned(), BTreeSet::from([b.to_owned()]));
    let edges = BTreeMap::from([
        edge("a", "b"),
        edge("b", "c"),
        edge("c", "a"),
        edge("d", "a"),
    ]);
    assert_eq!(circles(&edges), [["a", "b", "c"]]);
    let parsed = crate_paths("use crate::{a::{b, c::D}, e};\nlet x = crate::f::g();");
    assert_eq!(
        parsed,
        [
            vec!["a", "b"],
            vec!["a", "c", "D"],
            vec!["e"],
            vec!["f", "g"]
        ]
    );
}
