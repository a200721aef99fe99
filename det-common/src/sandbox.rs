//! The canonical root: a mount namespace (plus a user namespace when not root) whose root
//! is a fresh tmpfs holding the host's top-level directories (bind mounts) and `/det`, where
//! the workspace, the target dir, CARGO_HOME and the toolchain appear at fixed paths. Every
//! absolute path a compiler, a build script or a proc macro sees is then the same on every
//! machine. Needs no privilege and no container engine — the way bubblewrap builds its root
//! without setuid: `unshare`, a uid/gid map of the caller's own ids, a private mount tree,
//! a tmpfs, bind mounts, `pivot_root`.
//!
//! The set-up runs in a freshly started, single-threaded process (`unshare(CLONE_NEWUSER)`
//! refuses a multi-threaded caller): the binary re-executes itself with a hidden verb, calls
//! [`enter`] with a [`Spec`] and then `exec`s the build command. The namespace and its tmpfs
//! disappear with the last process in it: nothing is left to clean up, also after Ctrl-C,
//! and nothing is ever mounted in the host's namespace (the tree is made private first).
//!
//! [`probe`] tells, cheaply and without side effects, whether the kernel allows it here;
//! where it does not, callers fall back to remapping flags (see [`crate::build`]).

use std::ffi::{CString, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Where things appear inside the canonical root.
pub const ROOT: &str = "/det";
/// The workspace root (read-only unless the spec says otherwise).
pub const SRC: &str = "/det/src";
/// Cargo's target directory.
pub const TARGET: &str = "/det/target";
/// CARGO_HOME (registry, git checkouts, the user's `config.toml`).
pub const CARGO_HOME: &str = "/det/cargo";
/// HOME of the build: an empty writable directory on the root's tmpfs.
pub const HOME: &str = "/det/home";
/// The Rust sysroot (rustc, cargo, the standard library), read-only.
pub const TOOLCHAIN: &str = "/det/rust";
/// Path dependencies outside the workspace: `/det/deps/<n>-<name>`.
pub const DEPS: &str = "/det/deps";
/// det's own files (the shim library).
pub const LIB: &str = "/det/lib";
/// zig's install directory (the binary and its lib/), read-only: zig builds its libc
/// start files with its own path in their debug information, so it must be the same
/// everywhere.
pub const ZIG: &str = "/det/zig";
/// zig's caches for the build (global and local), writable.
pub const ZIG_CACHE: &str = "/det/zig-cache";

/// The environment variable that carries the JSON [`Spec`] to the re-executed helper.
pub const SPEC_VAR: &str = "DET_SANDBOX_SPEC";

/// One bind mount: `source` (a host path) appears at `dest` (an absolute path in the new
/// root; directories under [`ROOT`] are created on the tmpfs, anything else must exist).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bind {
    pub source: PathBuf,
    pub dest: PathBuf,
    pub writable: bool,
}

/// What the canonical root holds and how the command starts in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spec {
    /// Applied in order, after the host's top-level directories.
    pub binds: Vec<Bind>,
    /// Empty writable directories on the tmpfs (HOME).
    pub dirs: Vec<PathBuf>,
    /// `false`: a new network namespace with no interface up (`--network none`).
    pub network: bool,
    /// The working directory in the new root.
    pub cwd: PathBuf,
    /// Variables set only for the command itself, not for the helper that enters the root
    /// (LD_PRELOAD of a library that exists only inside it).
    #[serde(default)]
    pub exec_env: std::collections::BTreeMap<String, String>,
    /// Commands run in the root after the program ends, whatever its status (stopping a
    /// compiler cache's server that was started inside).
    #[serde(default)]
    pub finally: Vec<Vec<std::ffi::OsString>>,
    /// Show what the `finally` commands print (on stderr) instead of discarding it.
    #[serde(default)]
    pub finally_shown: bool,
}

impl Spec {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a sandbox spec serializes")
    }

    pub fn from_json(s: &str) -> Result<Spec> {
        serde_json::from_str(s)
            .map_err(|e| Error::Other(format!("malformed {SPEC_VAR} (internal): {e}")))
    }
}

/// Why no namespace could be made, for the fallback's message and the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unavailable(pub String);

fn errno() -> std::io::Error {
    std::io::Error::last_os_error()
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn ns_flags(user: bool, network: bool) -> libc::c_int {
    let mut f = libc::CLONE_NEWNS;
    if user {
        f |= libc::CLONE_NEWUSER;
    }
    if !network {
        f |= libc::CLONE_NEWNET;
    }
    f
}

/// Whether a mount namespace (with a user namespace when not root, and a network
/// namespace when `network` is false) can be made here. A forked child tries `unshare`
/// and exits; the caller's own namespaces never change.
pub fn probe(network: bool) -> std::result::Result<(), Unavailable> {
    let attempts: &[bool] = if is_root() { &[false, true] } else { &[true] };
    let mut last = String::new();
    for &user in attempts {
        let flags = ns_flags(user, network);
        // SAFETY: the child calls only async-signal-safe functions (unshare, _exit)
        // before exiting, as fork in a possibly multi-threaded process requires.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(Unavailable(format!("fork failed: {}", errno())));
        }
        if pid == 0 {
            // SAFETY: see above.
            unsafe {
                let r = libc::unshare(flags);
                let code = if r == 0 {
                    0
                } else {
                    *libc::__errno_location() & 0x7f
                };
                libc::_exit(code);
            }
        }
        let mut status = 0;
        // SAFETY: waiting for the child just forked.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
            return Ok(());
        }
        let code = if libc::WIFEXITED(status) {
            libc::WEXITSTATUS(status)
        } else {
            0
        };
        last = format!(
            "unshare({}) failed: {}",
            flag_names(flags),
            std::io::Error::from_raw_os_error(code)
        );
    }
    let hint = if !is_root() {
        " (unprivileged user namespaces are disabled here: kernel.unprivileged_userns_clone=0, \
         user.max_user_namespaces=0, an AppArmor restriction such as Ubuntu's \
         kernel.apparmor_restrict_unprivileged_userns=1, or a container's seccomp profile)"
    } else {
        " (a container without CAP_SYS_ADMIN or with a seccomp profile that blocks unshare)"
    };
    Err(Unavailable(format!("{last}{hint}")))
}

fn flag_names(flags: libc::c_int) -> String {
    let mut v = Vec::new();
    if flags & libc::CLONE_NEWUSER != 0 {
        v.push("CLONE_NEWUSER");
    }
    if flags & libc::CLONE_NEWNS != 0 {
        v.push("CLONE_NEWNS");
    }
    if flags & libc::CLONE_NEWNET != 0 {
        v.push("CLONE_NEWNET");
    }
    v.join("|")
}

fn cstr(p: &Path) -> Result<CString> {
    CString::new(p.as_os_str().as_bytes())
        .map_err(|_| Error::invalid(p, "a path with a NUL byte cannot be mounted"))
}

fn step(what: impl FnOnce() -> String) -> impl FnOnce(std::io::Error) -> Error {
    move |e| Error::Other(format!("canonical root: {}: {e}", what()))
}

fn check(r: libc::c_int) -> std::io::Result<()> {
    if r < 0 { Err(errno()) } else { Ok(()) }
}

fn write_proc(file: &str, content: &str) -> Result<()> {
    std::fs::write(file, content).map_err(step(|| format!("writing {content:?} to {file}")))
}

fn mount(
    source: Option<&Path>,
    target: &Path,
    fstype: Option<&str>,
    flags: libc::c_ulong,
    data: Option<&str>,
) -> std::io::Result<()> {
    let to_c = |p: &Path| CString::new(p.as_os_str().as_bytes()).map_err(std::io::Error::other);
    let source = source.map(to_c).transpose()?;
    let target = to_c(target)?;
    let fstype = fstype.map(|s| CString::new(s).expect("no NUL"));
    let data = data.map(|s| CString::new(s).expect("no NUL"));
    let p = |c: &Option<CString>| c.as_ref().map_or(std::ptr::null(), |c| c.as_ptr());
    // SAFETY: every pointer is a valid NUL-terminated string or null, as mount(2) accepts.
    check(unsafe {
        libc::mount(
            p(&source),
            target.as_ptr(),
            p(&fstype),
            flags,
            p(&data).cast(),
        )
    })
}

/// The flags of the mount at `path` that a read-only remount inside a user namespace must
/// keep (the kernel refuses to clear a locked nosuid/nodev/noexec/atime flag).
fn kept_flags(path: &Path) -> std::io::Result<libc::c_ulong> {
    let c = CString::new(path.as_os_str().as_bytes()).map_err(std::io::Error::other)?;
    // SAFETY: statvfs writes into the zeroed struct we own.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    check(unsafe { libc::statvfs(c.as_ptr(), &mut st) })?;
    let f = st.f_flag;
    let mut out = 0;
    for (st_flag, ms_flag) in [
        (libc::ST_NOSUID, libc::MS_NOSUID),
        (libc::ST_NODEV, libc::MS_NODEV),
        (libc::ST_NOEXEC, libc::MS_NOEXEC),
        (libc::ST_NOATIME, libc::MS_NOATIME),
        (libc::ST_NODIRATIME, libc::MS_NODIRATIME),
        (libc::ST_RELATIME, libc::MS_RELATIME),
    ] {
        if f & st_flag != 0 {
            out |= ms_flag;
        }
    }
    Ok(out)
}

/// Make the calling process's mount tree the canonical root described by `spec` and
/// change into `spec.cwd`. Call it only in a fresh single-threaded process that will
/// `exec` next; on error the process must exit (its half-made namespace dies with it,
/// the host's is never touched).
///
/// The order is bubblewrap's: the tmpfs is mounted and made the root first (the old root
/// moves to `/.oldroot`), and only then are the host's directories bound from there — a
/// recursive bind made before the switch would copy the new root's own mount along.
pub fn enter(spec: &Spec) -> Result<()> {
    // SAFETY: getuid/getgid have no preconditions.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    let attempts: &[bool] = if uid == 0 { &[false, true] } else { &[true] };
    let mut user = false;
    let mut last = None;
    for &u in attempts {
        // SAFETY: unshare with valid flags; the process is single-threaded (fresh exec).
        if unsafe { libc::unshare(ns_flags(u, spec.network)) } == 0 {
            user = u;
            last = None;
            break;
        }
        last = Some(errno());
    }
    if let Some(e) = last {
        return Err(Error::Other(format!(
            "canonical root: unshare({}): {e}",
            flag_names(ns_flags(uid != 0, spec.network))
        )));
    }
    if user {
        // Map our own uid and gid (a process may map just itself without privilege;
        // setgroups must be denied first for the gid map).
        write_proc("/proc/self/setgroups", "deny")?;
        write_proc("/proc/self/uid_map", &format!("{uid} {uid} 1\n"))?;
        write_proc("/proc/self/gid_map", &format!("{gid} {gid} 1\n"))?;
    }
    // Nothing below may propagate to the host's mount namespace.
    mount(
        None,
        Path::new("/"),
        None,
        libc::MS_REC | libc::MS_PRIVATE,
        None,
    )
    .map_err(step(|| "making / private (mount --make-rprivate /)".into()))?;
    // The new root: a tmpfs (on /tmp, which it covers only until the switch).
    let base = Path::new("/tmp");
    mount(
        Some(Path::new("tmpfs")),
        base,
        Some("tmpfs"),
        libc::MS_NOSUID | libc::MS_NODEV,
        Some("mode=0755"),
    )
    .map_err(step(|| "mounting a tmpfs for the new root".into()))?;
    let old_in_base = base.join(".oldroot");
    std::fs::create_dir(&old_in_base).map_err(|e| Error::io(&old_in_base, e))?;
    let (nr, or) = (cstr(base)?, cstr(&old_in_base)?);
    // SAFETY: pivot_root with two valid paths; the new root is a mount point.
    check(unsafe { libc::syscall(libc::SYS_pivot_root, nr.as_ptr(), or.as_ptr()) as libc::c_int })
        .map_err(step(|| "pivot_root".into()))?;
    std::env::set_current_dir("/").map_err(step(|| "chdir /".into()))?;
    let old = Path::new("/.oldroot");
    let host = |p: &Path| old.join(p.strip_prefix("/").unwrap_or(p));

    // The host's top-level entries: directories bound (recursively, as they are),
    // symlinks (merged /usr: /bin -> usr/bin) recreated. /det is ours.
    let mut entries: Vec<_> = std::fs::read_dir(old)
        .map_err(step(|| "listing the host's /".into()))?
        .filter_map(|e| e.ok())
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name();
        if name == OsStr::new("det") || name == OsStr::new(".oldroot") {
            continue;
        }
        let source = old.join(&name);
        let dest = Path::new("/").join(&name);
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_symlink() {
            let target = std::fs::read_link(&source).map_err(|e| Error::io(&source, e))?;
            std::os::unix::fs::symlink(&target, &dest).map_err(|e| Error::io(&dest, e))?;
            continue;
        }
        if ft.is_dir() {
            std::fs::create_dir(&dest).map_err(|e| Error::io(&dest, e))?;
        } else {
            std::fs::write(&dest, b"").map_err(|e| Error::io(&dest, e))?;
        }
        if let Err(err) = mount(
            Some(&source),
            &dest,
            None,
            libc::MS_BIND | libc::MS_REC,
            None,
        ) {
            // A directory the user may not bind (rare) is left out, not fatal.
            if err.raw_os_error() == Some(libc::EACCES) || err.raw_os_error() == Some(libc::EPERM) {
                continue;
            }
            return Err(step(|| format!("binding /{}", name.to_string_lossy()))(err));
        }
    }
    for d in &spec.dirs {
        std::fs::create_dir_all(d).map_err(|e| Error::io(d, e))?;
    }
    for b in &spec.binds {
        let source = host(&b.source);
        let dest = &b.dest;
        if b.dest.starts_with(ROOT) || b.dest.starts_with("/.cargo") {
            if let Some(parent) = dest.parent() {
                std::fs::create_dir_all(parent).map_err(|e| Error::io(dest, e))?;
            }
            let is_dir = std::fs::metadata(&source)
                .map_err(|e| Error::io(&b.source, e))?
                .is_dir();
            if is_dir {
                std::fs::create_dir_all(dest).map_err(|e| Error::io(dest, e))?;
            } else if !dest.exists() {
                std::fs::write(dest, b"").map_err(|e| Error::io(dest, e))?;
            }
        }
        mount(
            Some(&source),
            dest,
            None,
            libc::MS_BIND | libc::MS_REC,
            None,
        )
        .map_err(step(|| {
            format!("binding {} at {}", b.source.display(), b.dest.display())
        }))?;
        if !b.writable {
            let keep =
                kept_flags(dest).map_err(step(|| format!("statvfs {}", b.dest.display())))?;
            mount(
                None,
                dest,
                None,
                libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY | keep,
                None,
            )
            .map_err(step(|| format!("making {} read-only", b.dest.display())))?;
        }
    }
    let old_c = cstr(old)?;
    // SAFETY: detaching the old root by a valid path.
    check(unsafe { libc::umount2(old_c.as_ptr(), libc::MNT_DETACH) })
        .map_err(step(|| "detaching the old root".into()))?;
    let _ = std::fs::remove_dir(old);
    std::env::set_current_dir(&spec.cwd)
        .map_err(step(|| format!("chdir {}", spec.cwd.display())))?;
    Ok(())
}

/// A build wrote where it may not: `path` is on a read-only mount of the canonical root.
/// The message names the file and the rule, for cargo's and the compilers' errors.
pub fn read_only_rule() -> &'static str {
    "the source tree is read-only in the canonical root (cargo's rule: build scripts write only to OUT_DIR; `cargo package` enforces the same); pass --writable-source to lift it"
}
