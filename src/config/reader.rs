//! A small typed reader over a parsed TOML document that collects *every* error with its
//! line instead of stopping at the first one (serde stops at the first), so `check-config`
//! can show an admin all that is wrong with a file in one go.
//!
//! Each table is read through a [`Section`]: typed getters mark keys as used, and
//! [`Section::finish`] reports any key nobody asked for as unknown — a typo must never
//! silently disable a device.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml_edit::{Item, TableLike, Value};

use super::ConfigError;

/// Error sink plus what is needed to turn byte spans into lines and relative paths into
/// absolute ones.
pub(crate) struct Ctx<'a> {
    pub src: &'a str,
    pub file: &'a Path,
    pub dir: &'a Path,
    pub errors: Vec<ConfigError>,
}

impl Ctx<'_> {
    pub fn line_of(&self, span: Option<Range<usize>>) -> usize {
        match span {
            Some(r) => self.src[..r.start.min(self.src.len())].matches('\n').count() + 1,
            None => 0,
        }
    }

    /// Records an error. Control characters in the message (a path or value from the file
    /// may hold a newline) are escaped, so each error stays one line.
    pub fn error(&mut self, span: Option<Range<usize>>, key: impl Into<String>, message: impl Into<String>) {
        let line = self.line_of(span);
        let message: String = message.into();
        let message = if message.contains(char::is_control) {
            message
                .chars()
                .map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() })
                .collect()
        } else {
            message
        };
        self.errors.push(ConfigError { file: self.file.to_path_buf(), line, key: key.into(), message });
    }

    /// Resolves a path from the config against the config file's folder.
    pub fn resolve(&self, raw: &str) -> PathBuf {
        let p = Path::new(raw);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.dir.join(p)
        }
    }
}

/// One TOML table being read: `[journal]`, or one entry of `[[scanner]]`.
pub(crate) struct Section<'a> {
    table: &'a dyn TableLike,
    /// Dotted name used in error messages, e.g. `journal` or `scanner[2]`.
    pub name: String,
    /// Where the table starts, for errors about missing keys.
    pub span: Option<Range<usize>>,
    used: Vec<&'static str>,
}

impl<'a> Section<'a> {
    pub fn new(table: &'a dyn TableLike, name: impl Into<String>, span: Option<Range<usize>>) -> Self {
        Section { table, name: name.into(), span, used: Vec::new() }
    }

    pub fn has(&self, key: &str) -> bool {
        self.table.contains_key(key)
    }

    /// `table.key` as an error shows it; a key that is not a bare TOML key (empty, dotted,
    /// with spaces or control characters) is shown quoted and escaped, so the error stays one
    /// line that names it unmistakably.
    pub fn key_name(&self, key: &str) -> String {
        let bare = !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        let key = if bare { key.to_string() } else { format!("{key:?}") };
        if self.name.is_empty() {
            key
        } else {
            format!("{}.{}", self.name, key)
        }
    }

    pub fn key_span(&self, key: &str) -> Option<Range<usize>> {
        self.table.key(key).and_then(|k| k.span()).or_else(|| self.span.clone())
    }

    fn value(&mut self, cx: &mut Ctx, key: &'static str) -> Option<(&'a Value, Option<Range<usize>>)> {
        self.used.push(key);
        let item = self.table.get(key)?;
        let span = self.key_span(key);
        match item {
            Item::Value(v) => Some((v, span)),
            Item::None => None,
            other => {
                cx.error(span, self.key_name(key), format!("expected a value, found {}", other.type_name()));
                None
            }
        }
    }

    pub fn missing(&self, cx: &mut Ctx, key: &str) {
        cx.error(self.span.clone(), self.key_name(key), "missing required key");
    }

    pub fn string(&mut self, cx: &mut Ctx, key: &'static str) -> Option<String> {
        let (v, span) = self.value(cx, key)?;
        match v.as_str() {
            Some(s) => Some(s.to_string()),
            None => {
                cx.error(span, self.key_name(key), format!("expected a string, found {}", v.type_name()));
                None
            }
        }
    }

    /// A string that must be present and not blank.
    pub fn required_string(&mut self, cx: &mut Ctx, key: &'static str) -> Option<String> {
        let present = self.table.contains_key(key);
        let s = self.string(cx, key);
        match s {
            Some(s) if s.trim().is_empty() => {
                cx.error(self.key_span(key), self.key_name(key), "must not be empty");
                None
            }
            Some(s) => Some(s),
            None => {
                if !present {
                    self.missing(cx, key);
                }
                None
            }
        }
    }

    pub fn bool(&mut self, cx: &mut Ctx, key: &'static str) -> Option<bool> {
        let (v, span) = self.value(cx, key)?;
        match v.as_bool() {
            Some(b) => Some(b),
            None => {
                cx.error(span, self.key_name(key), format!("expected true or false, found {}", v.type_name()));
                None
            }
        }
    }

    pub fn integer(&mut self, cx: &mut Ctx, key: &'static str, range: Range<i64>) -> Option<i64> {
        let (v, span) = self.value(cx, key)?;
        match v.as_integer() {
            Some(i) if range.contains(&i) => Some(i),
            Some(i) => {
                let msg = format!("{i} is out of range {}..={}", range.start, range.end - 1);
                cx.error(span, self.key_name(key), msg);
                None
            }
            None => {
                cx.error(span, self.key_name(key), format!("expected an integer, found {}", v.type_name()));
                None
            }
        }
    }

    /// A list of strings, e.g. `hosts = ["station-7.local"]`; absent is empty.
    pub fn string_list(&mut self, cx: &mut Ctx, key: &'static str) -> Vec<String> {
        let Some((v, span)) = self.value(cx, key) else { return Vec::new() };
        let strings =
            v.as_array().map(|a| a.iter().map(|e| e.as_str().map(str::to_string)).collect::<Option<Vec<_>>>());
        match strings {
            Some(Some(list)) => list,
            _ => {
                cx.error(span, self.key_name(key), format!("expected a list of strings, found {}", v.type_name()));
                Vec::new()
            }
        }
    }

    /// One of a fixed set of words, e.g. `role = "pack"`.
    pub fn choice(&mut self, cx: &mut Ctx, key: &'static str, allowed: &[&'static str]) -> Option<&'static str> {
        let s = self.string(cx, key)?;
        match allowed.iter().find(|a| **a == s) {
            Some(a) => Some(a),
            None => {
                let msg = format!("{s:?} is not one of {}", allowed.join(" | "));
                cx.error(self.key_span(key), self.key_name(key), msg);
                None
            }
        }
    }

    /// A language the station ships a catalog for (`"de"`, `"zh-CN"`, …).
    pub fn locale(&mut self, cx: &mut Ctx, key: &'static str) -> Option<crate::locale::Locale> {
        let s = self.string(cx, key)?;
        let locale = crate::locale::Locale::parse(&s);
        if locale.is_none() {
            let msg = format!(
                "{s:?} is not a language the station ships; use one of {} (tags as written, e.g. \"zh-CN\")",
                crate::locale::Locale::shipped()
            );
            cx.error(self.key_span(key), self.key_name(key), msg);
        }
        locale
    }

    /// A duration written like `"24h"`, `"30s"` or `"500ms"`.
    pub fn duration(&mut self, cx: &mut Ctx, key: &'static str) -> Option<Duration> {
        let s = self.string(cx, key)?;
        match humantime::parse_duration(&s) {
            Ok(d) => Some(d),
            Err(e) => {
                let msg = format!("{s:?} is not a duration ({e}); write e.g. \"30s\", \"15m\", \"24h\"");
                cx.error(self.key_span(key), self.key_name(key), msg);
                None
            }
        }
    }

    /// A size written like `"512MiB"` or `"2GB"` (an integer is taken as bytes).
    pub fn bytes(&mut self, cx: &mut Ctx, key: &'static str) -> Option<u64> {
        let (v, span) = self.value(cx, key)?;
        if let Some(i) = v.as_integer() {
            return match u64::try_from(i) {
                Ok(n) => Some(n),
                Err(_) => {
                    cx.error(span, self.key_name(key), "must not be negative");
                    None
                }
            };
        }
        let Some(s) = v.as_str() else {
            cx.error(span, self.key_name(key), format!("expected a size like \"512MiB\", found {}", v.type_name()));
            return None;
        };
        match s.trim().parse::<bytesize::ByteSize>() {
            Ok(b) => Some(b.as_u64()),
            Err(_) => {
                let msg = format!("{s:?} is not a size; write e.g. \"512MiB\" or \"2GB\"");
                cx.error(span, self.key_name(key), msg);
                None
            }
        }
    }

    /// A path resolved against the config's folder. With `must_exist` the file must be
    /// there now (secrets, certificates) so a typo shows up in `check-config`, not at 3 am.
    pub fn path(&mut self, cx: &mut Ctx, key: &'static str, must_exist: bool) -> Option<PathBuf> {
        let raw = self.string(cx, key)?;
        if raw.trim().is_empty() {
            cx.error(self.key_span(key), self.key_name(key), "must not be empty");
            return None;
        }
        let path = cx.resolve(&raw);
        if must_exist {
            if let Err(e) = std::fs::metadata(&path) {
                let msg = format!("cannot read {}: {e}", path.display());
                cx.error(self.key_span(key), self.key_name(key), msg);
                return None;
            }
        }
        Some(path)
    }

    /// A file holding a secret (password, private key, token): it must exist and must not
    /// be readable by others, or anyone with a shell on the box could read it.
    pub fn secret_path(&mut self, cx: &mut Ctx, key: &'static str) -> Option<PathBuf> {
        use std::os::unix::fs::PermissionsExt;
        let path = self.path(cx, key, true)?;
        let mode = std::fs::metadata(&path).map(|m| m.permissions().mode()).unwrap_or(0);
        if mode & 0o007 != 0 {
            let msg = format!(
                "{} is readable by others (mode {:04o}); a secret must not be: chmod o-rwx {}",
                path.display(),
                mode & 0o7777,
                path.display()
            );
            cx.error(self.key_span(key), self.key_name(key), msg);
            return None;
        }
        if let Some((dir, mode)) = folder_others_can_write(&path) {
            let msg = format!(
                "{} lies under {}, a folder others can write (mode {:04o}): anyone on the box could swap the secret; \
                 move it to a folder only root and stationd can write, e.g. /etc/stationd/",
                path.display(),
                dir.display(),
                mode & 0o7777
            );
            cx.error(self.key_span(key), self.key_name(key), msg);
            return None;
        }
        Some(path)
    }

    /// Reports keys this section does not know.
    pub fn finish(self, cx: &mut Ctx) {
        for (key, _) in self.table.iter() {
            if !self.used.contains(&key) {
                let span = self.table.key(key).and_then(|k| k.span());
                let known = self.used.join(", ");
                cx.error(span, self.key_name(key), format!("unknown key (known keys here: {known})"));
            }
        }
    }
}

/// The entries of an array of tables such as `[[scanner]]`, or nothing when absent.
pub(crate) fn array_of_tables<'a>(cx: &mut Ctx, root: &mut Section<'a>, key: &'static str) -> Vec<Section<'a>> {
    root.used.push(key);
    let Some(item) = root.table.get(key) else {
        return Vec::new();
    };
    match item.as_array_of_tables() {
        Some(arr) => {
            arr.iter().enumerate().map(|(i, t)| Section::new(t, format!("{key}[{}]", i + 1), t.span())).collect()
        }
        None => {
            let msg = format!("expected [[{key}]] entries, found {}", item.type_name());
            cx.error(root.key_span(key), key, msg);
            Vec::new()
        }
    }
}

/// A table such as `[journal]`; `None` when absent.
pub(crate) fn table<'a>(cx: &mut Ctx, root: &mut Section<'a>, key: &'static str) -> Option<Section<'a>> {
    root.used.push(key);
    let item = root.table.get(key)?;
    match item.as_table_like() {
        Some(t) => {
            let span = item.span().or_else(|| root.key_span(key));
            Some(Section::new(t, key, span))
        }
        None => {
            let msg = format!("expected a [{key}] table, found {}", item.type_name());
            cx.error(root.key_span(key), key, msg);
            None
        }
    }
}

/// A folder on the way to the secret at `path` (as written, and after its links are
/// resolved) through which users other than root and this process's user could swap the
/// secret, with its mode: the secret's own folder when others may write it (a sticky one
/// too: whoever creates a name there first owns it), or a folder above it that others may
/// write without the sticky bit (or with it, when the entry below belongs to someone else).
fn folder_others_can_write(path: &Path) -> Option<(PathBuf, u32)> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let me = unsafe { libc::geteuid() };
    let exposed = |file: &Path| -> Option<(PathBuf, u32)> {
        let mut entry = file;
        for dir in file.ancestors().skip(1).filter(|d| !d.as_os_str().is_empty()) {
            let mode = std::fs::metadata(dir).ok()?.permissions().mode();
            if mode & 0o002 != 0 {
                let own_folder = entry == file;
                let sticky = mode & 0o1000 != 0;
                let entry_owner = std::fs::symlink_metadata(entry).map(|m| m.uid()).unwrap_or(u32::MAX);
                if own_folder || !sticky || (entry_owner != 0 && entry_owner != me) {
                    return Some((dir.to_path_buf(), mode));
                }
            }
            entry = dir;
        }
        None
    };
    exposed(path).or_else(|| std::fs::canonicalize(path).ok().and_then(|real| exposed(&real)))
}
