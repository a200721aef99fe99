//! Real programs under libdetshim.so, the library `cargo-det-build shim-path` writes:
//! coreutils, Python, a Rust program, C programs calling every hook (also from 8
//! threads), gcc's `__DATE__`, make linking in `find` order, a static binary,
//! rustc (jemalloc inside), a jemalloc-linked C program and a full `cargo build`.
//!
//! Needs gcc, make, python3, and the Debian package `libjemalloc2` (the jemalloc test
//! skips without it unless `DET_REQUIRE_JEMALLOC=1`); the static binary comes from
//! `gcc -static` (libc6-dev's libc.a) or else zig.
#![cfg(all(target_os = "linux", target_env = "gnu"))]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The shim, as an installed cargo-det-build provides it.
fn shim() -> &'static Path {
    static SHIM: OnceLock<PathBuf> = OnceLock::new();
    SHIM.get_or_init(|| {
        let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("shim-cache");
        let out = Command::new(env!("CARGO_BIN_EXE_cargo-det-build"))
            .arg("shim-path")
            .env("DET_CACHE_DIR", &cache)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let p = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
        assert!(p.starts_with(&cache) && p.is_file(), "{}", p.display());
        p
    })
}

/// `program args` under the shim with `settings`; every other DET_SHIM_ variable and
/// SOURCE_DATE_EPOCH removed so the outside environment cannot leak in.
fn under_shim(
    program: impl AsRef<std::ffi::OsStr>,
    args: &[&str],
    settings: &[(&str, &str)],
) -> Command {
    let mut cmd = Command::new(program);
    cmd.args(args);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("DET_SHIM_") {
            cmd.env_remove(k);
        }
    }
    cmd.env_remove("SOURCE_DATE_EPOCH");
    cmd.env("LD_PRELOAD", shim())
        .env("TZ", "UTC")
        .env("LC_ALL", "C");
    for (k, v) in settings {
        cmd.env(k, v);
    }
    cmd
}

fn ok(mut cmd: impl std::borrow::BorrowMut<Command>) -> String {
    let cmd = cmd.borrow_mut();
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert_ok(cmd, &out);
    String::from_utf8(out.stdout).unwrap()
}

fn assert_ok(cmd: &Command, out: &Output) {
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn gcc(dir: &Path, name: &str, source: &str, extra: &[&str]) -> PathBuf {
    let src = dir.join(format!("{name}.c"));
    std::fs::write(&src, source).unwrap();
    let exe = dir.join(name);
    let mut cmd = Command::new("gcc");
    cmd.args(["-O1", "-pthread", "-o"])
        .arg(&exe)
        .arg(&src)
        .args(extra);
    ok(cmd);
    exe
}

/// A directory whose 40 entries were created in a scrambled order (so the file
/// system's order is neither sorted nor reversed); returns it and the sorted names.
fn scrambled_dir(parent: &Path) -> (PathBuf, Vec<String>) {
    let dir = parent.join("listing");
    std::fs::create_dir(&dir).unwrap();
    let mut names: Vec<String> = (0..40).map(|i| format!("f{:02}", (i * 17) % 40)).collect();
    for n in &names {
        std::fs::write(dir.join(n), n).unwrap();
    }
    names.sort();
    (dir, names)
}

fn lines(s: &str) -> Vec<String> {
    s.lines().map(str::to_owned).collect()
}

fn reversed(v: &[String]) -> Vec<String> {
    v.iter().rev().cloned().collect()
}

/// `cargo det-build shim-path` (cargo passes "det-build" first) and the binary run
/// directly agree, and a second call reuses the file.
#[test]
fn shim_path_as_cargo_subcommand_and_directly() {
    let via_cargo = Command::new(env!("CARGO_BIN_EXE_cargo-det-build"))
        .args(["det-build", "shim-path"])
        .env(
            "DET_CACHE_DIR",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("shim-cache"),
        )
        .output()
        .unwrap();
    assert!(via_cargo.status.success());
    assert_eq!(
        String::from_utf8(via_cargo.stdout).unwrap().trim(),
        shim().to_str().unwrap()
    );
    let v = Command::new(env!("CARGO_BIN_EXE_cargo-det-build"))
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(v.stdout).unwrap(),
        format!("cargo-det-build {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn date_follows_frozen_and_advancing_time() {
    let out = ok(under_shim(
        "date",
        &["+%s"],
        &[("DET_SHIM_TIME", "1234567890")],
    ));
    assert_eq!(out, "1234567890\n");
    let out = ok(under_shim(
        "date",
        &["-u", "+%F %T"],
        &[("DET_SHIM_TIME", "0")],
    ));
    assert_eq!(out, "1970-01-01 00:00:00\n");
    // Advancing: starts at the epoch when the process loads, runs at real speed.
    let out = ok(under_shim(
        "python3",
        &[
            "-c",
            "import time; a = time.time(); time.sleep(0.3); b = time.time(); print(a, b)",
        ],
        &[("DET_SHIM_TIME", "1000000+")],
    ));
    let v: Vec<f64> = out.split_whitespace().map(|x| x.parse().unwrap()).collect();
    assert!((1_000_000.0..1_000_002.0).contains(&v[0]), "{out}");
    assert!((0.29..1.5).contains(&(v[1] - v[0])), "{out}");
    // Without a setting the real clock comes through.
    let real = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let out: u64 = ok(under_shim("date", &["+%s"], &[]))
        .trim()
        .parse()
        .unwrap();
    assert!(out.abs_diff(real) < 5, "{out} vs {real}");
}

#[test]
fn python_time_datetime_and_listdir() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, sorted) = scrambled_dir(tmp.path());
    let script = "import sys, os, time, datetime\n\
                  print(int(time.time()))\n\
                  print(datetime.datetime.now().isoformat())\n\
                  print(datetime.datetime.now(datetime.timezone.utc).isoformat())\n\
                  print(','.join(os.listdir(sys.argv[1])))\n\
                  print(','.join(e.name for e in os.scandir(sys.argv[1])))\n";
    let d = dir.to_str().unwrap();
    let run = |order: &str| {
        lines(&ok(under_shim(
            "python3",
            &["-c", script, d],
            &[("DET_SHIM_TIME", "1700000000"), ("DET_SHIM_READDIR", order)],
        )))
    };
    let out = run("sorted");
    assert_eq!(out[0], "1700000000");
    assert_eq!(out[1], "2023-11-14T22:13:20");
    assert_eq!(out[2], "2023-11-14T22:13:20+00:00");
    assert_eq!(out[3], sorted.join(","));
    assert_eq!(out[4], sorted.join(","));
    let out = run("reverse");
    assert_eq!(out[3], reversed(&sorted).join(","));
    assert_eq!(out[4], reversed(&sorted).join(","));
}

#[test]
fn rust_program_system_time_and_read_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, sorted) = scrambled_dir(tmp.path());
    let src = tmp.path().join("prog.rs");
    std::fs::write(
        &src,
        r#"fn main() {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
            println!("{}", now.as_secs());
            let dir = std::env::args().nth(1).unwrap();
            let names: Vec<String> = std::fs::read_dir(dir).unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
            println!("{}", names.join(","));
        }"#,
    )
    .unwrap();
    let exe = tmp.path().join("prog");
    let mut rustc = Command::new("rustc");
    rustc.args(["--edition", "2021", "-o"]).arg(&exe).arg(&src);
    ok(rustc);
    let d = dir.to_str().unwrap();
    let run = |order: &str| {
        lines(&ok(under_shim(
            &exe,
            &[d],
            &[("DET_SHIM_TIME", "86400"), ("DET_SHIM_READDIR", order)],
        )))
    };
    assert_eq!(run("sorted"), vec!["86400".to_owned(), sorted.join(",")]);
    assert_eq!(run("reverse")[1], reversed(&sorted).join(","));
}

const HOOKS_C: &str = r#"
#define _GNU_SOURCE
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

static const char *dir;

static void add(char *out, size_t cap, const char *name) {
    if (name[0] == '.') return;
    size_t n = strlen(out);
    snprintf(out + n, cap - n, "%s%s", n ? "," : "", name);
}

static void list(char *out, size_t cap) {
    out[0] = 0;
    DIR *d = opendir(dir);
    if (!d) { perror("opendir"); exit(3); }
    struct dirent *e;
    while ((e = readdir(d))) add(out, cap, e->d_name);
    closedir(d);
}

/* Everything the hooks return, as one line. */
static void report(char *buf, size_t cap) {
    struct timespec rt, coarse, tai, tg;
    clock_gettime(CLOCK_REALTIME, &rt);
    clock_gettime(CLOCK_REALTIME_COARSE, &coarse);
    clock_gettime(CLOCK_TAI, &tai);
    struct timeval tv;
    gettimeofday(&tv, NULL);
    time_t t1 = time(NULL), t2;
    time(&t2);
    timespec_get(&tg, TIME_UTC);
    struct utsname u;
    uname(&u);
    char hn[256] = "", dn[256] = "", l[4096];
    gethostname(hn, sizeof hn);
    getdomainname(dn, sizeof dn);
    list(l, sizeof l);
    snprintf(buf, cap,
             "realtime=%lld.%09ld coarse=%lld tai_ok=%d gettimeofday=%lld.%06ld time=%lld/%lld "
             "timespec_get=%lld nodename=%s release=%s version=%s hostname=%s domainname=%s list=%s",
             (long long)rt.tv_sec, rt.tv_nsec, (long long)coarse.tv_sec,
             tai.tv_sec >= rt.tv_sec && tai.tv_sec - rt.tv_sec < 100,
             (long long)tv.tv_sec, (long)tv.tv_usec, (long long)t1, (long long)t2,
             (long long)tg.tv_sec, u.nodename, u.release, u.version, hn, dn, l);
}

static pthread_barrier_t barrier;
static char expected[8192];

static void *worker(void *arg) {
    (void)arg;
    char mine[8192];
    pthread_barrier_wait(&barrier);
    for (int i = 0; i < 200; i++) {
        report(mine, sizeof mine);
        if (strcmp(mine, expected) != 0) { fprintf(stderr, "thread saw %s\n", mine); exit(4); }
    }
    return NULL;
}

int main(int argc, char **argv) {
    dir = argv[1];
    report(expected, sizeof expected);
    printf("%s\n", expected);

    /* telldir/seekdir, rewinddir, readdir_r and scandir on one stream order. */
    char all[4096] = "", rest1[4096] = "", rest2[4096] = "", again[4096] = "", viar[4096] = "";
    DIR *d = opendir(dir);
    struct dirent *e;
    long pos = 0;
    for (int i = 0; (e = readdir(d)); i++) {
        add(all, sizeof all, e->d_name);
        if (i == 9) pos = telldir(d);
        if (i > 9) add(rest1, sizeof rest1, e->d_name);
    }
    seekdir(d, pos);
    while ((e = readdir64(d))) add(rest2, sizeof rest2, e->d_name);
    rewinddir(d);
    while ((e = readdir(d))) add(again, sizeof again, e->d_name);
    rewinddir(d);
    struct dirent entry, *res;
    while (readdir_r(d, &entry, &res) == 0 && res) add(viar, sizeof viar, res->d_name);
    closedir(d);
    struct dirent **nl;
    int n = scandir(dir, &nl, NULL, NULL);
    char sc[4096] = "";
    for (int i = 0; i < n; i++) { add(sc, sizeof sc, nl[i]->d_name); free(nl[i]); }
    free(nl);
    printf("seek=%d rewind=%d readdir_r=%d scandir=%d\n", strcmp(rest1, rest2) == 0 && rest1[0],
           strcmp(all, again) == 0, strcmp(all, viar) == 0, strcmp(all, sc) == 0);

    /* Monotonic time is never touched. */
    struct timespec m1, m2, s = {0, 20000000};
    clock_gettime(CLOCK_MONOTONIC, &m1);
    nanosleep(&s, NULL);
    clock_gettime(CLOCK_MONOTONIC, &m2);
    long long dt = (m2.tv_sec - m1.tv_sec) * 1000000000LL + (m2.tv_nsec - m1.tv_nsec);
    printf("monotonic_advanced=%d\n", dt >= 15000000);

    /* Opt-in hooks. */
    unsigned char r[8] = {0}, en[8] = {0};
    getrandom(r, sizeof r, 0);
    getentropy(en, sizeof en);
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    int r1 = rand();
    printf("pid=%d getrandom=%02x%02x%02x%02x%02x%02x%02x%02x getentropy=%02x%02x%02x%02x rand=%d\n",
           (int)getpid(), r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], en[0], en[1], en[2], en[3], r1);

    /* 8 threads at once see exactly what the main thread saw (when time is frozen). */
    if (argc > 2) return 0;
    pthread_t th[8];
    pthread_barrier_init(&barrier, NULL, 8);
    for (int i = 0; i < 8; i++) pthread_create(&th[i], NULL, worker, NULL);
    for (int i = 0; i < 8; i++) pthread_join(th[i], NULL);
    printf("threads=ok\n");
    return 0;
}
"#;

fn field<'a>(line: &'a str, key: &str) -> &'a str {
    line.split(' ')
        .find_map(|kv| kv.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
        .unwrap_or_else(|| panic!("no {key} in {line}"))
}

#[test]
fn c_program_calls_every_hook_from_eight_threads() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, sorted) = scrambled_dir(tmp.path());
    let exe = gcc(tmp.path(), "hooks", HOOKS_C, &[]);
    let d = dir.to_str().unwrap();
    let log = tmp.path().join("shim.log");
    let settings = [
        ("DET_SHIM_TIME", "1600000000"),
        ("DET_SHIM_HOSTNAME", "det-host"),
        ("DET_SHIM_DOMAINNAME", "det-domain"),
        ("DET_SHIM_UNAME_RELEASE", "6.0.0-det"),
        ("DET_SHIM_UNAME_VERSION", "#1 det"),
        ("DET_SHIM_READDIR", "shuffle:7"),
        ("DET_SHIM_PID", "4242"),
        ("DET_SHIM_RANDOM", "42"),
        ("DET_SHIM_LOG", log.to_str().unwrap()),
    ];
    let out = ok(under_shim(&exe, &[d], &settings));
    let l = lines(&out);
    let r = &l[0];
    assert_eq!(field(r, "realtime"), "1600000000.000000000");
    assert_eq!(field(r, "coarse"), "1600000000");
    assert_eq!(field(r, "tai_ok"), "1");
    assert_eq!(field(r, "gettimeofday"), "1600000000.000000");
    assert_eq!(field(r, "time"), "1600000000/1600000000");
    assert_eq!(field(r, "timespec_get"), "1600000000");
    assert_eq!(field(r, "nodename"), "det-host");
    assert_eq!(field(r, "release"), "6.0.0-det");
    assert!(r.contains(" version=#1 det "), "{r}");
    assert_eq!(field(r, "hostname"), "det-host");
    assert_eq!(field(r, "domainname"), "det-domain");
    let shuffled: Vec<&str> = field(r, "list").split(',').collect();
    assert_ne!(
        shuffled,
        sorted.iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert_eq!(
        shuffled.iter().copied().collect::<BTreeSet<_>>(),
        sorted.iter().map(String::as_str).collect::<BTreeSet<_>>()
    );
    assert_eq!(l[1], "seek=1 rewind=1 readdir_r=1 scandir=1");
    assert_eq!(l[2], "monotonic_advanced=1");
    assert_eq!(field(&l[3], "pid"), "4242");
    assert_eq!(l[4], "threads=ok");
    // The log: one line per hook, with exact counts for the main thread's work plus
    // 8 threads x 200 reports (each report: 3 realtime clock_gettime, 2 time, ...).
    let text = std::fs::read_to_string(&log).unwrap();
    let calls = |hook: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.contains(&format!(" hook={hook} ")))
            .map(|l| format!("{} {}", field(l, "calls"), field(l, "active")))
            .collect()
    };
    let reports = 1 + 8 * 200;
    assert_eq!(
        calls("clock_gettime"),
        vec![format!("{} 1", 3 * reports)],
        "{text}"
    );
    assert_eq!(
        calls("time"),
        vec![format!("{} 1", 2 * reports + 1)],
        "{text}"
    );
    assert_eq!(calls("gettimeofday"), vec![format!("{reports} 1")]);
    assert_eq!(calls("uname"), vec![format!("{reports} 1")]);
    assert_eq!(calls("gethostname"), vec![format!("{reports} 1")]);
    assert_eq!(calls("opendir"), vec![format!("{} 1", reports + 1)]);
    assert_eq!(calls("scandir"), vec!["1 1".to_owned()]);
    assert_eq!(calls("getpid"), vec!["2 1".to_owned()]);
    assert_eq!(calls("getrandom"), vec!["1 1".to_owned()]);
    assert_eq!(calls("srand"), vec!["1 1".to_owned()]);
    let first = text.lines().next().unwrap();
    assert!(first.starts_with("det-shim/1 pid="), "{first}");
    assert_eq!(field(first, "prog"), "hooks");
    assert_eq!(field(first, "exe"), "hooks");
    // The same seed gives the same random bytes; another seed other ones.
    let again = lines(&ok(under_shim(&exe, &[d], &settings)));
    assert_eq!(again[3], l[3]);
    let mut other = settings;
    other[7] = ("DET_SHIM_RANDOM", "43");
    let other = lines(&ok(under_shim(&exe, &[d], &other)));
    assert_ne!(field(&other[3], "getrandom"), field(&l[3], "getrandom"));
    assert_ne!(field(&other[3], "rand"), field(&l[3], "rand"));
}

/// 16 processes appending to one log at once: every line is whole, every process is there.
#[test]
fn log_lines_of_concurrent_processes_do_not_mix() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("shim.log");
    let children: Vec<_> = (0..16)
        .map(|_| {
            under_shim(
                "date",
                &["+%s"],
                &[
                    ("DET_SHIM_TIME", "42"),
                    ("DET_SHIM_LOG", log.to_str().unwrap()),
                ],
            )
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    let mut pids = BTreeSet::new();
    for c in children {
        pids.insert(c.id().to_string());
        let out = c.wait_with_output().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "42\n");
    }
    let text = std::fs::read_to_string(&log).unwrap();
    let mut seen = BTreeSet::new();
    for line in text.lines() {
        let words: Vec<&str> = line.split(' ').collect();
        assert_eq!(words.len(), 7, "{line}");
        assert_eq!(words[0], "det-shim/1");
        assert_eq!(field(line, "prog"), "date");
        assert!(field(line, "calls").parse::<u64>().unwrap() > 0, "{line}");
        seen.insert(field(line, "pid").to_owned());
    }
    assert_eq!(seen, pids, "{text}");
    assert_eq!(
        text.lines()
            .filter(|l| l.contains(" hook=clock_gettime ") && l.ends_with(" active=1"))
            .count(),
        16,
        "{text}"
    );
}

/// A relative DET_SHIM_LOG is resolved when the process loads, not after it moved.
#[test]
fn relative_log_path_is_fixed_at_load() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cmd = under_shim(
        "python3",
        &["-c", "import os, time; time.time(); os.chdir('/')"],
        &[("DET_SHIM_LOG", "rel.log")],
    );
    cmd.current_dir(tmp.path());
    ok(cmd);
    let text = std::fs::read_to_string(tmp.path().join("rel.log")).unwrap();
    assert!(
        text.lines()
            .any(|l| l.contains(" prog=python3 ") && l.contains(" hook=clock_gettime ")),
        "{text}"
    );
}

#[test]
fn excluded_programs_and_off_settings_fall_through() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = scrambled_dir(tmp.path());
    let exe = gcc(tmp.path(), "hooks", HOOKS_C, &[]);
    let log = tmp.path().join("shim.log");
    let out = ok(under_shim(
        &exe,
        &[dir.to_str().unwrap(), "no-threads"],
        &[
            ("DET_SHIM_TIME", "1600000000"),
            ("DET_SHIM_PID", "4242"),
            ("DET_SHIM_EXCLUDE", "gcc,hooks"),
            ("DET_SHIM_LOG", log.to_str().unwrap()),
        ],
    ));
    let l = lines(&out);
    assert_ne!(field(&l[0], "time"), "1600000000/1600000000");
    assert_ne!(field(&l[3], "pid"), "4242");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.lines()
            .any(|l| l.contains(" hook=time ") && l.ends_with(" active=0")),
        "{text}"
    );
    assert!(!text.contains("active=1"), "{text}");
}

#[test]
fn gcc_date_macro_follows_the_shim() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("d.c");
    std::fs::write(&src, "const char *stamp = __DATE__ \"|\" __TIME__;\n").unwrap();
    let pp = |epoch: &str| {
        ok(under_shim(
            "gcc",
            &["-E", "-P", src.to_str().unwrap()],
            &[("DET_SHIM_TIME", epoch)],
        ))
    };
    assert!(
        pp("0").contains("\"Jan  1 1970\" \"|\" \"00:00:00\""),
        "{}",
        pp("0")
    );
    assert!(pp("1700000000").contains("\"Nov 14 2023\" \"|\" \"22:13:20\""));
}

#[test]
fn find_lists_sorted_reversed_and_shuffled_by_seed() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, sorted) = scrambled_dir(tmp.path());
    let d = dir.to_str().unwrap();
    let find = |order: &str| {
        lines(&ok(under_shim(
            "find",
            &[d, "-mindepth", "1", "-printf", "%f\\n"],
            &[("DET_SHIM_READDIR", order)],
        )))
    };
    let real = lines(&ok(Command::new("find")
        .args([d, "-mindepth", "1", "-printf", "%f\\n"])
        .env_remove("LD_PRELOAD")));
    assert_ne!(
        real, sorted,
        "the file system listed in sorted order: the test proves nothing"
    );
    assert_eq!(find("sorted"), sorted);
    assert_eq!(find("reverse"), reversed(&sorted));
    let s1 = find("shuffle:1");
    assert_eq!(
        s1.iter().cloned().collect::<BTreeSet<_>>(),
        sorted.iter().cloned().collect()
    );
    assert_ne!(s1, sorted);
    assert_eq!(find("shuffle:1"), s1);
    assert_ne!(find("shuffle:2"), s1);
}

/// Many entries: the listing buffer grows many times and 5000 names are ordered.
#[test]
fn a_large_directory_is_listed_whole_and_in_order() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("big");
    std::fs::create_dir(&dir).unwrap();
    let mut names: Vec<String> = (0..5000)
        .map(|i| format!("entry-{:05}-{}", (i * 7919) % 5000, "x".repeat(i % 200)))
        .collect();
    for n in &names {
        std::fs::File::create(dir.join(n)).unwrap();
    }
    names.sort();
    let d = dir.to_str().unwrap();
    let listed = |order: &str| {
        lines(&ok(under_shim(
            "ls",
            &["-U", "-1", d],
            &[("DET_SHIM_READDIR", order)],
        )))
    };
    assert_eq!(listed("sorted"), names);
    assert_eq!(listed("reverse"), reversed(&names));
    let shuffled = listed("shuffle:99");
    assert_ne!(shuffled, names);
    assert_eq!(
        shuffled.iter().cloned().collect::<BTreeSet<_>>().len(),
        5000
    );
}

#[test]
fn make_links_in_find_order_fixture() {
    let tmp = tempfile::tempdir().unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/c-file-order");
    let build = |order: &str| {
        let work = tmp.path().join(order);
        ok({
            let mut c = Command::new("cp");
            c.arg("-r").arg(&fixture).arg(&work);
            c
        });
        let mut make = under_shim(
            "make",
            &["-s", "-C", work.to_str().unwrap()],
            &[("DET_SHIM_READDIR", order)],
        );
        make.env("CC", "gcc");
        ok(make);
        let prog = work.join("prog");
        (ok(Command::new(&prog)), std::fs::read(&prog).unwrap())
    };
    let (sorted_out, sorted_bin) = build("sorted");
    let (reverse_out, reverse_bin) = build("reverse");
    assert_eq!(sorted_out, "abcde\n");
    assert_eq!(reverse_out, "edcba\n");
    assert_ne!(sorted_bin, reverse_bin);
}

#[test]
fn timeout_still_ends_on_time_under_frozen_time() {
    let start = Instant::now();
    let out = under_shim(
        "timeout",
        &["1", "sleep", "5"],
        &[("DET_SHIM_TIME", "1000")],
    )
    .output()
    .unwrap();
    let took = start.elapsed();
    assert_eq!(out.status.code(), Some(124), "{out:?}");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(3),
        "{took:?}"
    );
}

const STATIC_C: &str = r#"
#include <stdio.h>
#include <time.h>
int main(void) { printf("static ok %d\n", time(NULL) > 1600000000); return 0; }
"#;

const SPAWN_C: &str = r#"
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv) {
    printf("parent time=%ld\n", (long)time(NULL));
    fflush(stdout);
    pid_t p = fork();
    if (p == 0) { execv(argv[1], argv + 1); _exit(127); }
    int st;
    waitpid(p, &st, 0);
    printf("child status=%d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    return 0;
}
"#;

/// A static binary: `gcc -static` when glibc's static libraries are installed, else
/// `zig cc -target <arch>-linux-musl` (None: neither available, the test skips).
fn static_binary(dir: &Path) -> Option<PathBuf> {
    let src = dir.join("static.c");
    std::fs::write(&src, STATIC_C).unwrap();
    let exe = dir.join("static");
    let gcc = Command::new("gcc")
        .args(["-static", "-o"])
        .arg(&exe)
        .arg(&src)
        .output()
        .unwrap();
    if gcc.status.success() {
        return Some(exe);
    }
    let zig = det_common::toolchain::zig_for_test("fork_and_exec_of_a_static_binary")?;
    let target = format!("{}-linux-musl", std::env::consts::ARCH);
    let mut cmd = Command::new(zig);
    cmd.args(["cc", "-target", &target, "-static", "-o"])
        .arg(&exe)
        .arg(&src);
    ok(cmd);
    Some(exe)
}

#[test]
fn fork_and_exec_of_a_static_binary() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(stat) = static_binary(tmp.path()) else {
        return;
    };
    let spawn = gcc(tmp.path(), "spawn", SPAWN_C, &[]);
    // The static binary ignores LD_PRELOAD (and sees the real time).
    let out = ok(under_shim(
        &spawn,
        &[stat.to_str().unwrap()],
        &[("DET_SHIM_TIME", "5")],
    ));
    assert_eq!(out, "parent time=5\nstatic ok 1\nchild status=0\n");
}

#[test]
fn rustc_runs_under_the_shim() {
    // rustc links jemalloc: the deadlock libfaketime has (issues #130, #402) would hang here.
    let mut cmd = under_shim(
        "rustc",
        &["--version"],
        &[
            ("DET_SHIM_TIME", "1000"),
            ("DET_SHIM_READDIR", "sorted"),
            ("DET_SHIM_HOSTNAME", "h"),
        ],
    );
    let out = ok_within(&mut cmd, Duration::from_secs(60));
    assert!(out.starts_with("rustc "), "{out}");
}

/// Run `cmd`, failing (instead of hanging the suite) if it takes longer than `limit`.
fn ok_within(cmd: &mut Command, limit: Duration) -> String {
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if start.elapsed() > limit {
            child.kill().unwrap();
            panic!("{cmd:?} hung for {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    assert_ok(cmd, &out);
    String::from_utf8(out.stdout).unwrap()
}

fn jemalloc() -> Option<PathBuf> {
    let p = PathBuf::from("/usr/lib/x86_64-linux-gnu/libjemalloc.so.2");
    let p = if cfg!(target_arch = "aarch64") {
        PathBuf::from("/usr/lib/aarch64-linux-gnu/libjemalloc.so.2")
    } else {
        p
    };
    if p.exists() {
        return Some(p);
    }
    if std::env::var("DET_REQUIRE_JEMALLOC").as_deref() == Ok("1") {
        panic!("libjemalloc not found: apt-get install libjemalloc2");
    }
    eprintln!("skipped: libjemalloc not found (apt-get install libjemalloc2)");
    None
}

const JEMALLOC_C: &str = r#"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static void *work(void *a) {
    (void)a;
    for (int i = 0; i < 20000; i++) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        free(malloc(16 + (i % 4096)));
        if (ts.tv_sec != 1000) abort();
    }
    return NULL;
}
int main(void) {
    pthread_t t[4];
    for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, work, NULL);
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    puts("jemalloc ok");
    return 0;
}
"#;

#[test]
fn jemalloc_programs_do_not_deadlock() {
    let Some(je) = jemalloc() else { return };
    let tmp = tempfile::tempdir().unwrap();
    // Linked against the library file itself: only the runtime package is needed.
    let exe = gcc(tmp.path(), "je", JEMALLOC_C, &[je.to_str().unwrap()]);
    let settings = [("DET_SHIM_TIME", "1000"), ("DET_SHIM_READDIR", "sorted")];
    assert_eq!(
        ok_within(
            &mut under_shim(&exe, &[], &settings),
            Duration::from_secs(60)
        ),
        "jemalloc ok\n"
    );
    // jemalloc as the allocator of a whole tool, loaded before and after the shim.
    for order in [
        format!("{} {}", je.display(), shim().display()),
        format!("{} {}", shim().display(), je.display()),
    ] {
        let mut cmd = under_shim(
            "python3",
            &[
                "-c",
                "import time, os; print(int(time.time()), len(os.listdir('/')) > 0)",
            ],
            &settings,
        );
        cmd.env("LD_PRELOAD", order);
        assert_eq!(ok_within(&mut cmd, Duration::from_secs(60)), "1000 True\n");
    }
}

/// A library whose constructor reads the clock runs before the shim's constructor:
/// the hook must work before its real functions are resolved (the raw system call),
/// which is also the situation of an allocator initializing under a hook.
#[test]
fn hooks_work_before_the_shim_constructor() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("early.c");
    std::fs::write(
        &src,
        "#include <stdio.h>\n#include <time.h>\n#include <unistd.h>\n\
         __attribute__((constructor)) static void early(void) {\n\
           struct timespec ts; clock_gettime(CLOCK_REALTIME, &ts); char h[64] = \"\"; gethostname(h, sizeof h);\n\
           fprintf(stderr, \"early %ld %ld %s\\n\", (long)time(NULL), (long)ts.tv_sec, h); }\n",
    )
    .unwrap();
    let lib = tmp.path().join("libearly.so");
    ok({
        let mut c = Command::new("gcc");
        c.args(["-shared", "-fPIC", "-o"]).arg(&lib).arg(&src);
        c
    });
    let mut cmd = under_shim(
        "true",
        &[],
        &[
            ("DET_SHIM_TIME", "777"),
            ("DET_SHIM_HOSTNAME", "early-host"),
        ],
    );
    cmd.env(
        "LD_PRELOAD",
        format!("{} {}", lib.display(), shim().display()),
    );
    let out = cmd.output().unwrap();
    assert_ok(&cmd, &out);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "early 777 777 early-host\n"
    );
}

#[test]
fn cargo_build_under_the_shim_then_a_no_op_rebuild() {
    let tmp = tempfile::tempdir().unwrap();
    let krate = tmp.path().join("fixture");
    std::fs::create_dir_all(krate.join("src")).unwrap();
    std::fs::write(
        krate.join("Cargo.toml"),
        "[package]\nname = \"shimmed\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    )
    .unwrap();
    // A build script that reads the clock and lists a directory, like real ones do.
    std::fs::write(
        krate.join("build.rs"),
        "fn main() {\n\
           let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();\n\
           let n: Vec<_> = std::fs::read_dir(\"src\").unwrap().map(|e| e.unwrap().file_name()).collect();\n\
           println!(\"cargo::rustc-env=BUILT_AT={t}\");\n\
           println!(\"cargo::rustc-env=SRC_FILES={n:?}\");\n\
           println!(\"cargo::rerun-if-changed=src\");\n}\n",
    )
    .unwrap();
    std::fs::write(krate.join("src/main.rs"), "mod util;\nfn main() { println!(\"{} {}\", env!(\"BUILT_AT\"), env!(\"SRC_FILES\")); util::f(); }\n").unwrap();
    std::fs::write(krate.join("src/util.rs"), "pub fn f() {}\n").unwrap();
    let log = tmp.path().join("shim.log");
    let cargo = || {
        let mut c = under_shim(
            std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()),
            &["build", "-v", "--offline"],
            &[
                ("DET_SHIM_TIME", "1500000000"),
                ("DET_SHIM_READDIR", "reverse"),
                ("DET_SHIM_LOG", log.to_str().unwrap()),
            ],
        );
        c.current_dir(&krate)
            .env("CARGO_TARGET_DIR", krate.join("target"));
        c.env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .env_remove("CARGO_BUILD_TARGET");
        c
    };
    let mut first = cargo();
    let out = first.output().unwrap();
    assert_ok(&first, &out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Compiling shimmed"), "{err}");
    let run = ok(Command::new(krate.join("target/debug/shimmed")));
    assert_eq!(run, "1500000000 [\"util.rs\", \"main.rs\"]\n");
    let mut second = cargo();
    let out = second.output().unwrap();
    assert_ok(&second, &out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !err.contains("Compiling") && !err.contains("Running"),
        "second build was not a no-op:\n{err}"
    );
    assert!(err.contains("Fresh shimmed"), "{err}");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.lines()
            .any(|l| l.contains(" hook=clock_gettime ") && l.contains(" prog=build-script-build ")),
        "{text}"
    );
    assert!(text.lines().any(|l| l.contains(" exe=rustc ")), "{text}");
}

#[test]
fn shim_compile_is_reproducible_across_paths() {
    #[path = "../build/shim_compile.rs"]
    mod shim_compile;
    let tmp = tempfile::tempdir().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("shim-src");
    let target = if cfg!(target_arch = "aarch64") {
        "aarch64-unknown-linux-gnu"
    } else {
        "x86_64-unknown-linux-gnu"
    };
    let mut outs = Vec::new();
    for place in ["a", "a-much/longer/path"] {
        let dir = tmp.path().join(place).join("shim-src");
        std::fs::create_dir_all(&dir).unwrap();
        for e in std::fs::read_dir(&src).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), dir.join(e.file_name())).unwrap();
        }
        let out = tmp.path().join(place).join("libdetshim.so");
        shim_compile::compile_shim(Path::new("rustc"), target, &dir, &out, None).unwrap();
        outs.push(std::fs::read(&out).unwrap());
    }
    assert_eq!(
        outs[0], outs[1],
        "the shim differs when built in another directory"
    );
    // And it is the very library the binary embeds.
    assert_eq!(outs[0], std::fs::read(shim()).unwrap());
}
