//! Documentation generated from media type descriptions: a Markdown page and a JSON Schema
//! per media type, a catalog for other tools, TypeScript declarations for the browser side,
//! the browser script that sends the events to `webaction serve` (with its declarations),
//! and an index linking them.
//!
//! Everything here works from [`MediaTypeDescription`]s alone, so a media type declared in
//! a user's own crate gets the same documents as the built-in ones:
//!
//! ```
//! use events_core::Registry;
//! use events_docs as docs;
//!
//! events_core::media_type! {
//!     /// A poll shown on the page.
//!     pub Poll = "poll" {
//!         states {
//!             /// The poll is shown.
//!             initial Shown = "shown" -> Answered,
//!             /// The visitor answered.
//!             terminal Answered = "answered",
//!         }
//!     }
//! }
//!
//! let registry = Registry::builtin().with::<Poll>();
//! let documents = docs::generate(&registry)?;
//! let page = documents.iter().find(|d| d.file_name == "poll.md").unwrap();
//! assert!(page.contents.contains("ac('on', 'poll:shown'"));
//! # Ok::<(), docs::DocsError>(())
//! ```
//!
//! The output is deterministic: the same registry always gives the same bytes, so the
//! committed documentation can be compared with a fresh generation.
//!
//! A crate of its own beside `events-core`, as `tracing-serde` sits beside `tracing-core`:
//! the runtime that generated code targets does not carry the documentation generator.
//! The facade re-exports it as `webaction_events::docs`.
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]

mod catalog;
mod collector;
mod markdown;
mod mermaid;
mod schema;
mod text;
mod typescript;

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};

use events_core::MediaTypeDescription;
use events_core::Registry;

pub use catalog::catalog;
pub use collector::{collector_declarations, collector_script};
pub use markdown::{index_page, media_type_page};
pub use mermaid::state_diagram;
pub use schema::json_schema;
pub use typescript::typescript_declarations;

/// The file name of the catalog of every media type.
pub const CATALOG_FILE: &str = "catalog.json";
/// The file name of the TypeScript declarations.
pub const TYPESCRIPT_FILE: &str = "webaction-events.d.ts";
/// The file name of the browser script that sends the events to `webaction serve`.
pub const COLLECTOR_SCRIPT_FILE: &str = "webaction-collector.js";
/// The file name of the TypeScript declarations of that script's API.
pub const COLLECTOR_DECLARATIONS_FILE: &str = "webaction-collector.d.ts";
/// The file name of the index page.
pub const INDEX_FILE: &str = "index.md";

/// One generated file: its name inside the output directory and its contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// The file name, e.g. `webchat.md`; never a path with directories.
    pub file_name: String,
    /// The file's contents, ending with a newline.
    pub contents: String,
}

/// Why documentation could not be generated or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DocsError {
    /// A media type's wire name cannot be used in a file name.
    #[error("media type `{media_type}` cannot name a documentation file: its wire name {reason}")]
    UnsafeFileName {
        /// The media type's wire name.
        media_type: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Two outputs would have the same name: two files (also when they differ only in case,
    /// which some file systems do not tell apart), or two TypeScript declarations.
    #[error("`{name}` would be generated twice, for {first} and for {second}")]
    NameClash {
        /// The clashing file or TypeScript name.
        name: String,
        /// What the first one is generated for.
        first: String,
        /// What the second one is generated for.
        second: String,
    },
    /// A Rust name that is not a valid TypeScript identifier.
    #[error("media type `{media_type}`: `{name}` is not usable as a TypeScript identifier")]
    InvalidIdentifier {
        /// The media type's wire name.
        media_type: String,
        /// The Rust name at fault.
        name: String,
    },
    /// Writing the output failed.
    #[error("cannot write `{}`: {source}", path.display())]
    Write {
        /// The file or directory that could not be written.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// Removing a file an earlier generation wrote, and this one does not, failed.
    #[error("cannot remove the stale `{}`: {source}", path.display())]
    Remove {
        /// The stale file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}

/// What [`write_docs`] did to the output directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The files written, in the order of [`generate`].
    pub written: Vec<PathBuf>,
    /// The pages and schemas of media types that an earlier generation documented in
    /// this directory (its catalog lists them) and this one does not: removed.
    pub removed: Vec<PathBuf>,
}

/// Every document for the media types of `registry`, in a fixed order: per media type (in
/// registration order) its page and its schema, then the catalog, the TypeScript
/// declarations, the collector script and its declarations, and the index.
pub fn generate(registry: &Registry) -> Result<Vec<Document>, DocsError> {
    let descriptions: Vec<_> = registry.iter().map(|entry| entry.description).collect();
    generate_for(&descriptions)
}

/// [`generate`] for a list of descriptions rather than a registry.
pub fn generate_for(
    descriptions: &[&'static MediaTypeDescription],
) -> Result<Vec<Document>, DocsError> {
    let mut documents = Vec::with_capacity(descriptions.len() * 2 + 5);
    for description in descriptions {
        check_file_name(description.wire_name)?;
        documents.push(Document {
            file_name: page_file(description),
            contents: media_type_page(description),
        });
        documents.push(Document {
            file_name: schema_file(description),
            contents: json_text(&json_schema(description)),
        });
    }
    documents.push(Document {
        file_name: CATALOG_FILE.to_owned(),
        contents: json_text(&catalog(descriptions)),
    });
    documents.push(Document {
        file_name: TYPESCRIPT_FILE.to_owned(),
        contents: typescript_declarations(descriptions)?,
    });
    documents.push(Document {
        file_name: COLLECTOR_SCRIPT_FILE.to_owned(),
        contents: collector_script(descriptions),
    });
    documents.push(Document {
        file_name: COLLECTOR_DECLARATIONS_FILE.to_owned(),
        contents: collector_declarations(descriptions),
    });
    documents.push(Document {
        file_name: INDEX_FILE.to_owned(),
        contents: index_page(descriptions),
    });
    check_distinct_files(&documents)?;
    Ok(documents)
}

/// Generates every document for `registry` (see [`generate`]) and writes them into `out`,
/// creating it when needed.
///
/// A media type that is no longer registered leaves no page or schema behind: the files
/// that the catalog already in `out` lists, and that this generation does not produce,
/// are removed. Nothing else is touched: other files in `out` are left alone, and a
/// catalog that cannot be read, or that names anything but a plain `.md` or
/// `.schema.json` file name, removes nothing (the catalog is data; it must not make this
/// delete outside `out`).
pub fn write_docs(registry: &Registry, out: &Path) -> Result<Written, DocsError> {
    let documents = generate(registry)?;
    // Read before the new catalog replaces it.
    let previous = previously_generated(out);
    std::fs::create_dir_all(out).map_err(|source| DocsError::Write {
        path: out.to_owned(),
        source,
    })?;
    let written = documents
        .iter()
        .map(|document| {
            let path = out.join(&document.file_name);
            std::fs::write(&path, &document.contents).map_err(|source| DocsError::Write {
                path: path.clone(),
                source,
            })?;
            Ok(path)
        })
        .collect::<Result<Vec<_>, DocsError>>()?;
    // Compared without case: on a file system that ignores it (macOS, Windows), removing
    // `WebChat.md` after writing `webchat.md` would remove the new page. On one that does
    // not, a media type renamed only in case keeps its old files; that is the safe side.
    let produced: BTreeSet<String> = documents
        .iter()
        .map(|d| d.file_name.to_lowercase())
        .collect();
    let mut removed = Vec::new();
    for name in previous
        .iter()
        .filter(|name| !produced.contains(&name.to_lowercase()))
    {
        let path = out.join(name);
        match std::fs::remove_file(&path) {
            Ok(()) => removed.push(path),
            // Already gone: nothing stale is left, which is what was asked.
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(source) => return Err(DocsError::Remove { path, source }),
        }
    }
    Ok(Written { written, removed })
}

/// The page and schema file names the catalog in `out` lists, if it can be read.
fn previously_generated(out: &Path) -> BTreeSet<String> {
    let Ok(text) = std::fs::read(out.join(CATALOG_FILE)) else {
        return BTreeSet::new();
    };
    let Ok(catalog) = serde_json::from_slice::<serde_json::Value>(&text) else {
        return BTreeSet::new();
    };
    let media_types = catalog["mediaTypes"].as_array().into_iter().flatten();
    media_types
        .flat_map(|media_type| [&media_type["page"], &media_type["schema"]])
        .filter_map(serde_json::Value::as_str)
        .filter(|name| {
            (name.ends_with(".md") || name.ends_with(".schema.json"))
                && check_file_name(name).is_ok()
        })
        .map(str::to_owned)
        .collect()
}

/// `<mediaType>.md`.
pub fn page_file(description: &MediaTypeDescription) -> String {
    format!("{}.md", description.wire_name)
}

/// `<mediaType>.schema.json`.
pub fn schema_file(description: &MediaTypeDescription) -> String {
    format!("{}.schema.json", description.wire_name)
}

/// Pretty JSON with a final newline; key order is insertion order (`preserve_order`), so
/// the text is the same on every run.
fn json_text(value: &serde_json::Value) -> String {
    let mut text = serde_json::to_string_pretty(value).expect("a JSON value always serializes");
    text.push('\n');
    text
}

/// A wire name may be anything a topic allows; a file name may not.
fn check_file_name(wire_name: &str) -> Result<(), DocsError> {
    let reason = if wire_name.is_empty() {
        Some("is empty")
    } else if wire_name.starts_with('.') {
        Some("starts with `.`")
    } else if wire_name.chars().any(|c| {
        c.is_control() || matches!(c, '/' | '\\' | '<' | '>' | ':' | '"' | '|' | '?' | '*')
    }) {
        Some("contains a character that is not allowed in file names")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(DocsError::UnsafeFileName {
            media_type: wire_name.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

fn check_distinct_files(documents: &[Document]) -> Result<(), DocsError> {
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    for document in documents {
        if let Some(first) = seen.insert(document.file_name.to_lowercase(), &document.file_name) {
            return Err(DocsError::NameClash {
                name: document.file_name.to_lowercase(),
                first: format!("file `{first}`"),
                second: format!("file `{}`", document.file_name),
            });
        }
    }
    Ok(())
}
