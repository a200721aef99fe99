//! A locale for the locale variation that this machine really has: one `locale -a` lists
//! (other than C and POSIX), else one built without root by `localedef` into the
//! verification's directory and found through LOCPATH (glibc honours it for programs that
//! are not set-uid). Without either, glibc falls back to C and only the variables differ:
//! the report says so.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The locale the varied runs use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Other {
    /// The name for LC_ALL and LANG.
    pub name: String,
    /// The directory to give as LOCPATH (a locale built by localedef).
    pub locpath: Option<PathBuf>,
}

/// Locales whose conventions differ from C's where builds show them: a decimal comma,
/// thousands grouping, day and month names, the date's order (first found wins).
const PREFERRED: &[&str] = &[
    "fr_CH.UTF-8",
    "de_CH.UTF-8",
    "fr_FR.UTF-8",
    "de_DE.UTF-8",
    "es_ES.UTF-8",
    "en_US.UTF-8",
];

/// The definition localedef builds when the machine has no other locale.
const BUILT: (&str, &str) = ("fr_CH", "UTF-8");

/// `fr_CH.utf8` and `fr_CH.UTF-8` are one locale to glibc.
fn normalized(name: &str) -> String {
    name.to_ascii_lowercase().replace('-', "")
}

/// The other locale among `locale -a`'s names, if any.
pub fn pick(listed: &[&str]) -> Option<String> {
    let others: Vec<&str> = listed
        .iter()
        .copied()
        .filter(|l| {
            let n = normalized(l);
            !(n == "c" || n == "posix" || n.starts_with("c.") || n.starts_with("c@"))
        })
        .collect();
    for p in PREFERRED {
        if let Some(l) = others.iter().find(|l| normalized(l) == normalized(p)) {
            return Some((*l).to_string());
        }
    }
    others
        .iter()
        .find(|l| normalized(l).contains("utf8"))
        .or(others.first())
        .map(|l| (*l).to_string())
}

/// A locale other than C for the varied runs, or why there is none (a report note).
pub fn find(dir: &Path) -> Result<Other, String> {
    let listed = Command::new("locale")
        .arg("-a")
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let names: Vec<&str> = listed.lines().map(str::trim).collect();
    if let Some(name) = pick(&names) {
        return Ok(Other {
            name,
            locpath: None,
        });
    }
    let (input, charmap) = BUILT;
    let name = format!("{input}.{charmap}");
    // Built once per machine and C library (the binary format is glibc's), then reused.
    if let Some(cache) = cache_dir() {
        if cache.join(&name).join("LC_CTYPE").is_file() {
            return Ok(Other {
                name,
                locpath: Some(cache),
            });
        }
        if std::fs::create_dir_all(&cache).is_ok()
            && let Ok(tmp) = tempfile::Builder::new()
                .prefix(".build-")
                .tempdir_in(&cache)
            && build(input, charmap, &tmp.path().join(&name)).is_ok()
            && (std::fs::rename(tmp.path().join(&name), cache.join(&name)).is_ok()
                || cache.join(&name).join("LC_CTYPE").is_file())
        {
            return Ok(Other {
                name,
                locpath: Some(cache),
            });
        }
    }
    let out = dir.join(&name);
    match build(input, charmap, &out) {
        Ok(()) => Ok(Other {
            name,
            locpath: Some(dir.to_path_buf()),
        }),
        Err(why) => Err(format!(
            "the locale variation changed the variables only (LC_ALL and LANG = {name}): \
             this machine has no locale but C and POSIX (locale -a) and {why}, so glibc fell \
             back to C; install the definitions (Debian's `locales` package) or generate a \
             locale (locale-gen)"
        )),
    }
}

/// `$XDG_CACHE_HOME/det/locale/glibc-VERSION` (else `~/.cache/...`).
fn cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".cache"))
        })?;
    // SAFETY: gnu_get_libc_version returns a static NUL-terminated string.
    let version = unsafe { std::ffi::CStr::from_ptr(libc::gnu_get_libc_version()) }
        .to_string_lossy()
        .into_owned();
    Some(base.join("det/locale").join(format!("glibc-{version}")))
}

/// `localedef -i INPUT -f CHARMAP OUT`, or why it failed.
fn build(input: &str, charmap: &str, out: &Path) -> Result<(), String> {
    let built = Command::new("localedef")
        .args(["-i", input, "-f", charmap])
        .arg(out)
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .output();
    match built {
        // localedef exits 1 on warnings with the locale written.
        Ok(o) if out.join("LC_CTYPE").is_file() && o.status.code().is_some_and(|c| c <= 1) => {
            Ok(())
        }
        Ok(o) => {
            let err = String::from_utf8_lossy(&o.stderr);
            let last = err.lines().rev().find(|l| !l.trim().is_empty());
            Err(format!(
                "localedef -i {input} -f {charmap} failed ({}{})",
                o.status,
                last.map(|l| format!(": {}", l.trim())).unwrap_or_default()
            ))
        }
        Err(e) => Err(format!("localedef: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_a_preferred_locale_then_any_utf8_one_never_c() {
        assert_eq!(pick(&["C", "C.utf8", "POSIX"]), None);
        assert_eq!(
            pick(&["C", "en_US.utf8", "fr_CH.utf8", "POSIX"]).as_deref(),
            Some("fr_CH.utf8")
        );
        assert_eq!(
            pick(&["C", "ja_JP.eucjp", "ja_JP.utf8"]).as_deref(),
            Some("ja_JP.utf8")
        );
        assert_eq!(pick(&["C", "ja_JP.eucjp"]).as_deref(), Some("ja_JP.eucjp"));
    }
}
