//! `cargo det-build --store DIR` (issue 12): a build addressed by its closure. Two
//! checkouts of one project at different paths, on different "machines": the first builds
//! and fills the store, the second is substituted from it without running cargo, with
//! bit-identical outputs; a source, a flag or a feature changes the closure (a miss that
//! builds and stores); a damaged entry is detected, removed and rebuilt; a store det
//! cannot use is said, and the build goes on without it.

mod support;

use std::path::{Path, PathBuf};

use support::*;

fn closure(m: &Machine) -> String {
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(m.file("target/det/manifest.json")).unwrap())
            .unwrap();
    json["closure"].as_str().unwrap().to_string()
}

fn entries(store: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(store.join("entries"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn compiled(out: &std::process::Output) -> bool {
    stderr(out)
        .lines()
        .any(|l| l.trim().starts_with("Compiling "))
}

#[test]
fn a_second_checkout_is_substituted_from_the_store_without_cargo() {
    let store_dir = tempfile::tempdir().unwrap();
    let store = store_dir.path().join("store");
    let s = store.to_str().unwrap();
    let a = Machine::new("rust-clean", 1, "UTC", "C.UTF-8");
    let b = Machine::new("rust-clean", 3, "Asia/Tokyo", "de_DE.UTF-8");
    for m in [&a, &b] {
        let toml = m.file("Cargo.toml");
        let text = std::fs::read_to_string(&toml).unwrap();
        std::fs::write(&toml, format!("{text}\n[features]\nloud = []\n")).unwrap();
    }

    // A store that is a file: said, and the build goes on without it.
    let file = store_dir.path().join("a-file");
    std::fs::write(&file, b"").unwrap();
    let out = a.det_build(&["--release", "--store", file.to_str().unwrap()]);
    assert_ok(&out, "det-build with a file as the store");
    assert!(
        stderr(&out).contains("the store cannot be used")
            && stderr(&out).contains("not a directory"),
        "{}",
        stderr(&out)
    );

    // The first checkout fills the store (cargo has nothing left to do).
    let first = a.det_build(&["--release", "--store", s]);
    assert_ok(&first, "first checkout");
    assert!(stderr(&first).contains("Stored"), "{}", stderr(&first));
    assert_eq!(entries(&store), [closure(&a)]);

    // The second is a hit: cargo never runs (no fingerprints in its target directory),
    // and the outputs are the first checkout's, bit for bit.
    let second = b.det_build(&["--release", "--store", s]);
    assert_ok(&second, "second checkout");
    assert!(
        stderr(&second).contains(&format!(
            "Substituted 1 output from the store (closure {}…)",
            &closure(&a)[..12]
        )),
        "{}",
        stderr(&second)
    );
    assert!(!compiled(&second), "{}", stderr(&second));
    assert!(!b.file("target/release/.fingerprint").exists(), "cargo ran");
    assert_eq!(closure(&a), closure(&b));
    assert_eq!(manifest_outputs(&a), manifest_outputs(&b));
    let run = std::process::Command::new(b.file("target/release/rust-clean"))
        .output()
        .unwrap();
    assert!(run.status.success(), "the substituted binary runs");

    // A damaged entry: detected before anything is used, removed, rebuilt and stored again.
    let exe = store
        .join("entries")
        .join(closure(&a))
        .join("outputs/release/rust-clean");
    let mut bytes = std::fs::read(&exe).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&exe, &bytes).unwrap();
    let damaged = b.det_build(&["--release", "--store", s]);
    assert_ok(&damaged, "build over a damaged entry");
    let err = stderr(&damaged);
    assert!(
        err.contains("is damaged") && err.contains("BLAKE3") && err.contains("Stored"),
        "{err}"
    );
    assert!(compiled(&damaged), "rebuilt: {err}");
    assert_eq!(manifest_outputs(&a), manifest_outputs(&b));
    assert_eq!(entries(&store), [closure(&a)]);

    // --require-verified: refused before a verification (after a real cargo det-verify it
    // substitutes: cargo-detverify/tests/verify_store.rs).
    let refused = b.det_build(&["--release", "--store", s, "--require-verified"]);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("never verified") && !compiled(&refused),
        "{}",
        stderr(&refused)
    );
    let unknown = b.det_build(&[
        "--release",
        "--store",
        s,
        "--require-verified",
        "--features",
        "loud",
    ]);
    assert_eq!(unknown.status.code(), Some(2), "{}", stderr(&unknown));
    assert!(
        stderr(&unknown).contains("is not in the store") && !compiled(&unknown),
        "{}",
        stderr(&unknown)
    );

    // What changes the closure is a miss: built and stored as a new entry.
    let mut seen = vec![closure(&a)];
    let changes: [(&str, &[&str]); 2] = [
        (
            "a feature",
            &["--release", "--store", s, "--features", "loud"],
        ),
        (
            "a flag",
            &[
                "--release",
                "--store",
                s,
                "--config",
                "profile.release.opt-level=2",
            ],
        ),
    ];
    for (what, args) in changes {
        let out = b.det_build(args);
        assert_ok(&out, what);
        assert!(
            !stderr(&out).contains("Substituted") && stderr(&out).contains("Stored"),
            "{what}: {}",
            stderr(&out)
        );
        assert!(!seen.contains(&closure(&b)), "{what} changes the closure");
        seen.push(closure(&b));
    }
    let main_rs = b.file("src/main.rs");
    let text = std::fs::read_to_string(&main_rs).unwrap();
    std::fs::write(&main_rs, format!("{text}\n// changed\n")).unwrap();
    let out = b.det_build(&["--release", "--store", s]);
    assert_ok(&out, "a source changed");
    assert!(
        compiled(&out) && stderr(&out).contains("Stored"),
        "{}",
        stderr(&out)
    );
    assert!(!seen.contains(&closure(&b)), "a source changes the closure");
    seen.push(closure(&b));
    seen.sort();
    assert_eq!(entries(&store), seen);
}

// ---- two builds of one closure at once, and a kill during the move ----
//
// Both act at one exact moment through det's pause point `store-insert`
// (`det_common::test_hook`): the entry is written under `tmp/` and not yet renamed into
// `entries/`; the build opens a FIFO there and blocks until the test lets it go.

fn mkfifo(p: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(p.as_os_str().as_bytes()).unwrap();
    // SAFETY: a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
}

/// The writing end of `fifo`, once `child` has reached its pause point. Dropping it lets
/// the child go on.
fn paused_at(fifo: &Path, child: &mut std::process::Child) -> std::fs::File {
    use std::os::unix::fs::OpenOptionsExt;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(600);
    loop {
        match std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(fifo)
        {
            Ok(f) => return f,
            Err(e) if e.raw_os_error() == Some(libc::ENXIO) => {}
            Err(e) => panic!("{}: {e}", fifo.display()),
        }
        if let Some(st) = child.try_wait().unwrap() {
            let mut err = String::new();
            use std::io::Read;
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            panic!("det-build ended ({st}) before its pause point:\n{err}");
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no pause point reached"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

fn spawn_paused(m: &Machine, store: &str, fifo: &Path) -> std::process::Child {
    mkfifo(fifo);
    m.det_build_command(&["--release", "--store", store])
        .env("DET_TEST_PAUSE", format!("store-insert:{}", fifo.display()))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

fn tmp_entries(store: &Path) -> usize {
    std::fs::read_dir(store.join("tmp")).unwrap().count()
}

#[test]
fn two_builds_of_one_closure_at_once_leave_one_good_entry() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let s = store.to_str().unwrap();
    let a = Machine::new("rust-clean", 1, "UTC", "C.UTF-8");
    let b = Machine::new("rust-clean", 2, "UTC", "C.UTF-8");
    let mut ca = spawn_paused(&a, s, &dir.path().join("a.fifo"));
    let mut cb = spawn_paused(&b, s, &dir.path().join("b.fifo"));
    // Both missed, built, and wrote their entry under tmp/.
    let ra = paused_at(&dir.path().join("a.fifo"), &mut ca);
    let rb = paused_at(&dir.path().join("b.fifo"), &mut cb);
    assert!(entries(&store).is_empty());
    assert_eq!(tmp_entries(&store), 2);
    drop(ra);
    let oa = ca.wait_with_output().unwrap();
    assert_ok(&oa, "the first to store");
    assert!(stderr(&oa).contains("Stored"), "{}", stderr(&oa));
    drop(rb);
    let ob = cb.wait_with_output().unwrap();
    assert_ok(&ob, "the second to store");
    assert!(
        stderr(&ob).contains("another build stored closure")
            && stderr(&ob).contains("with the same outputs"),
        "{}",
        stderr(&ob)
    );
    assert_eq!(closure(&a), closure(&b));
    assert_eq!(entries(&store), [closure(&a)]);
    assert_eq!(tmp_entries(&store), 0, "the loser's copy was discarded");
    let st = det_common::store::Store::open(&store).unwrap();
    let det_common::store::Lookup::Hit(e) = st.lookup(&closure(&a)) else {
        panic!("an entry")
    };
    st.check(&e).unwrap();
    assert_eq!(manifest_outputs(&a), manifest_outputs(&b));
}

#[test]
fn a_build_killed_during_the_move_leaves_no_entry() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let s = store.to_str().unwrap();
    let a = Machine::new("rust-clean", 1, "UTC", "C.UTF-8");
    let fifo = dir.path().join("a.fifo");
    let mut child = spawn_paused(&a, s, &fifo);
    let release = paused_at(&fifo, &mut child);
    child.kill().unwrap();
    let st = child.wait().unwrap();
    drop(release);
    assert!(!st.success());
    // Half an entry under tmp/, none in entries/: a lookup is a miss.
    assert!(entries(&store).is_empty());
    assert_eq!(tmp_entries(&store), 1);
    let again = a.det_build(&["--release", "--store", s]);
    assert_ok(&again, "the build after the kill");
    assert!(stderr(&again).contains("Stored"), "{}", stderr(&again));
    assert_eq!(entries(&store), [closure(&a)]);
}

// ---- cargo det-build store ls|show|verify|gc ----

fn store_cmd(store: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(det_build())
        .args(["det-build", "store", "--store"])
        .arg(store)
        .args(args)
        .env_remove("DET_STORE")
        .output()
        .unwrap()
}

/// Three entries of made-up builds (the store does not care what built them).
fn three_entries(dir: &Path) -> (PathBuf, Vec<String>) {
    use det_common::env::{SourceDateEpoch, SourceDateEpochSource};
    let store_dir = dir.join("store");
    let store = det_common::store::Store::open(&store_dir).unwrap();
    let mut closures = Vec::new();
    for i in 0..3u8 {
        let target = dir.join(format!("t{i}"));
        std::fs::create_dir_all(target.join("release")).unwrap();
        std::fs::write(target.join("release/app"), [b'x', i]).unwrap();
        let mut m = det_common::manifest::Manifest::new(
            SourceDateEpoch {
                value: 1,
                source: SourceDateEpochSource::Flag,
            },
            Default::default(),
        );
        m.build.insert("profile".into(), "release".into());
        m.build
            .insert("target".into(), "x86_64-unknown-linux-gnu".into());
        m.outputs.insert(
            "release/app".into(),
            det_common::hash::hash_file(&target.join("release/app")).unwrap(),
        );
        let c = format!("{i}").repeat(64);
        m.closure = Some(c.clone());
        store.insert(&m, &target).unwrap();
        // Used at distinct times: entry 0 longest ago.
        let t =
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000 + u64::from(i));
        std::fs::File::open(store.entry_dir(&c))
            .unwrap()
            .set_modified(t)
            .unwrap();
        closures.push(c);
    }
    (store_dir, closures)
}

#[test]
fn store_ls_show_verify_and_gc() {
    let dir = tempfile::tempdir().unwrap();
    let (store, c) = three_entries(dir.path());

    let ls = store_cmd(&store, &["ls"]);
    assert_ok(&ls, "store ls");
    let text = String::from_utf8_lossy(&ls.stdout).into_owned();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    for (line, c) in lines.iter().zip(&c) {
        assert!(
            line.starts_with(&c[..16]) && line.contains("release") && line.contains("release/app"),
            "{line}"
        );
    }
    let json = store_cmd(&store, &["ls", "--json"]);
    let first: serde_json::Value = serde_json::from_str(
        String::from_utf8_lossy(&json.stdout)
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(first["closure"], c[0]);
    assert_eq!(first["size"], 2);

    let show = store_cmd(&store, &["show", &c[1][..8]]);
    assert_ok(&show, "store show");
    let m: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(m["closure"], c[1]);
    let none = store_cmd(&store, &["show", "abc"]);
    assert_eq!(none.status.code(), Some(2));
    assert!(
        stderr(&none).contains("no entry has closure"),
        "{}",
        stderr(&none)
    );

    let ok = store_cmd(&store, &["verify"]);
    assert_ok(&ok, "store verify");
    assert!(String::from_utf8_lossy(&ok.stdout).contains("3 entries good, 0 damaged"));
    std::fs::write(
        store
            .join("entries")
            .join(&c[2])
            .join("outputs/release/app"),
        b"xX",
    )
    .unwrap();
    let bad = store_cmd(&store, &["verify"]);
    assert_eq!(bad.status.code(), Some(1));
    let out = String::from_utf8_lossy(&bad.stdout).into_owned();
    assert!(
        out.contains(&format!("damaged {}", c[2])) && out.contains("2 entries good, 1 damaged"),
        "{out}"
    );

    // gc --keep 1: entry 2 is the most recently used and kept; entry 0 is held by a
    // "build" (the lock a substitution takes) and kept; entry 1 goes; a directory left in
    // tmp/ by a killed writer goes.
    std::fs::create_dir(store.join("tmp/0123456789abcdef.left")).unwrap();
    let st = det_common::store::Store::open(&store).unwrap();
    let held = st.use_entry(&c[0]).unwrap();
    std::fs::File::open(store.join("entries").join(&c[0]))
        .unwrap()
        .set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_600_000_000))
        .unwrap();
    let gc = store_cmd(&store, &["gc", "--keep", "1"]);
    assert_ok(&gc, "store gc");
    let out = String::from_utf8_lossy(&gc.stdout).into_owned();
    assert!(
        out.contains(&format!("removed {}", c[1]))
            && out.contains(&format!("kept {} (in use by a build)", c[0]))
            && out.contains("1 entries removed, 1 in use kept, 1 left over"),
        "{out}"
    );
    drop(held);
    assert_eq!(entries(&store), [c[0].clone(), c[2].clone()]);
    assert_eq!(tmp_entries(&store), 0);
    let gc = store_cmd(&store, &["gc", "--keep", "1"]);
    assert_ok(&gc, "store gc again");
    assert_eq!(entries(&store), [c[2].clone()]);

    let nothing = store_cmd(&dir.path().join("missing"), &["ls"]);
    assert_eq!(nothing.status.code(), Some(2));
    assert!(
        stderr(&nothing).contains("no store there"),
        "{}",
        stderr(&nothing)
    );
}

/// `store add-toolchain zig`: zig's binary and lib directory under its toolchain id, the
/// copy hashing to that id; a second add finds it; damage is found by `store verify`.
#[test]
fn a_toolchain_is_stored_under_its_id() {
    let Some(zig) = det_common::toolchain::zig_for_test("a_toolchain_is_stored_under_its_id")
    else {
        return;
    };
    let id = det_common::toolchain::identify_zig(&zig).unwrap().id;
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    std::fs::create_dir(&store).unwrap();
    let add = || {
        std::process::Command::new(det_build())
            .args(["det-build", "store", "--store"])
            .arg(&store)
            .args(["add-toolchain", "zig"])
            .env("ZIG", &zig)
            .output()
            .unwrap()
    };
    let first = add();
    assert_ok(&first, "add-toolchain zig");
    let out = String::from_utf8_lossy(&first.stdout).into_owned();
    assert!(out.contains(&format!("as toolchain {id}")), "{out}");
    let stored = store.join("toolchains").join(&id);
    let binary = stored.join("files/bin/zig");
    assert_eq!(
        det_common::toolchain::toolchain_id(&binary, &stored.join("files/lib")).unwrap(),
        id,
        "the stored bytes resolve back to the id"
    );
    let again = add();
    assert_ok(&again, "add-toolchain zig again");
    assert!(String::from_utf8_lossy(&again.stdout).contains("is already in the store"));
    assert!(store_cmd(&store, &["verify"]).status.success());
    // Damage one file of zig's standard library.
    let std_file = walkdir::WalkDir::new(stored.join("files/lib/std"))
        .sort_by_file_name()
        .into_iter()
        .filter_map(|e| e.ok())
        .find(|e| e.file_type().is_file())
        .unwrap()
        .into_path();
    let mut bytes = std::fs::read(&std_file).unwrap();
    bytes.push(b'\n');
    std::fs::write(&std_file, bytes).unwrap();
    let verify = store_cmd(&store, &["verify"]);
    assert_eq!(verify.status.code(), Some(1));
    let out = String::from_utf8_lossy(&verify.stdout).into_owned();
    assert!(
        out.contains("damaged toolchain zig") && out.contains(&id),
        "{out}"
    );
}
