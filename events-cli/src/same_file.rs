//! Refusing to write over an input: every output a command would open for writing is
//! compared with every input (and with the other outputs) by file identity before
//! anything is opened for writing.
//!
//! Identity is the device and inode number on Unix, so a symlink, a hard link or
//! `/dev/stdin` naming the input counts as the same file; comparing paths would miss all
//! three, and truncating the input would lose every event in it. Only regular files are
//! compared: writing to a terminal, a pipe or `/dev/null` destroys nothing.

use std::fs::{self, File, Metadata};
use std::io;
use std::path::Path;
#[cfg(not(unix))]
use std::path::PathBuf;

use crate::CliError;

/// One file a command reads or writes, as named on its command line.
#[derive(Debug, Clone)]
pub struct Named<'a> {
    /// How the command line named it: `input`, `--dead-letter`, `--sink`, ...
    pub role: &'static str,
    /// The path; `-` is standard input for inputs and standard output for outputs.
    pub path: &'a Path,
}

impl<'a> Named<'a> {
    /// A file named by `role`.
    pub fn new(role: &'static str, path: &'a Path) -> Self {
        Named { role, path }
    }
}

/// Fails with [`CliError::SameFile`] when an output is the same file as an input or as
/// another output. Outputs that do not exist yet cannot be either, and are skipped.
pub fn refuse_overlap(inputs: &[Named<'_>], outputs: &[Named<'_>]) -> Result<(), CliError> {
    let identify = |named: &Named<'_>, stdio: Stdio| -> Option<FileId> {
        identity(named.path, stdio).ok().flatten()
    };
    let inputs: Vec<_> = inputs
        .iter()
        .filter_map(|named| Some((named, identify(named, Stdio::In)?)))
        .collect();
    let mut seen_outputs: Vec<(&Named<'_>, FileId)> = Vec::new();
    for output in outputs {
        let Some(id) = identify(output, Stdio::Out) else {
            continue;
        };
        let clash = inputs
            .iter()
            .chain(seen_outputs.iter())
            .find(|(_, other)| *other == id);
        if let Some((other, _)) = clash {
            return Err(CliError::SameFile {
                first_role: other.role,
                first: other.path.to_owned(),
                second_role: output.role,
                second: output.path.to_owned(),
            });
        }
        seen_outputs.push((output, id));
    }
    Ok(())
}

#[derive(Debug, Clone, Copy)]
enum Stdio {
    In,
    Out,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum FileId {
    #[cfg(unix)]
    Inode { dev: u64, ino: u64 },
    #[cfg(not(unix))]
    Path(PathBuf),
}

/// The identity of the regular file `path` names; `None` when it does not exist or is
/// not a regular file (a terminal, a pipe or `/dev/null` loses nothing when written).
fn identity(path: &Path, stdio: Stdio) -> io::Result<Option<FileId>> {
    let metadata = if path == Path::new("-") {
        stdio_metadata(stdio)
    } else {
        fs::metadata(path)
    };
    match metadata {
        Ok(metadata) if metadata.is_file() => Ok(Some(file_id(path, &metadata))),
        Ok(_) => Ok(None),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}

/// The metadata of the file behind standard input or output (a redirect may make it the
/// very file named elsewhere on the command line).
#[cfg(unix)]
fn stdio_metadata(stdio: Stdio) -> io::Result<Metadata> {
    use std::os::fd::AsFd;
    let fd = match stdio {
        Stdio::In => io::stdin().as_fd().try_clone_to_owned()?,
        Stdio::Out => io::stdout().as_fd().try_clone_to_owned()?,
    };
    File::from(fd).metadata()
}

#[cfg(not(unix))]
fn stdio_metadata(_: Stdio) -> io::Result<Metadata> {
    Err(io::Error::from(io::ErrorKind::NotFound))
}

#[cfg(unix)]
fn file_id(_: &Path, metadata: &Metadata) -> FileId {
    use std::os::unix::fs::MetadataExt;
    FileId::Inode {
        dev: metadata.dev(),
        ino: metadata.ino(),
    }
}

#[cfg(not(unix))]
fn file_id(path: &Path, _: &Metadata) -> FileId {
    FileId::Path(fs::canonicalize(path).unwrap_or_else(|_| path.to_owned()))
}
