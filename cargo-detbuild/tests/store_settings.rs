//! The det store's settings and bad stores (issue 12): a store that is a file, one that
//! is read-only (a read-only bind mount) and one that is full (a 64 KiB tmpfs), both
//! mounted in a user and mount namespace of the test's own (`unshare -Urm`), each said
//! with its path while the build goes on and its outputs are in place; `DET_STORE` and
//! `store` in `[workspace.metadata.det]` and their precedence under `--store`; a store
//! kept inside the workspace does not change the closure; another toolchain is another
//! closure.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::*;

fn closure(m: &Machine) -> String {
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(m.file("target/det/manifest.json")).unwrap())
            .unwrap();
    json["closure"].as_str().unwrap().to_string()
}

fn entries(store: &Path) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(store.join("entries")) else {
        return Vec::new();
    };
    let mut v: Vec<String> = rd
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn runs(m: &Machine, profile: &str) -> bool {
    Command::new(m.file(&format!("target/{profile}/rust-clean")))
        .output()
        .is_ok_and(|o| o.status.success())
}

/// `cmd` run inside a new user and mount namespace, after the shell commands `setup`
/// (mounts); `after` runs there too once the command ended (it sees the mounts).
fn in_namespace(cmd: &Command, setup: &str, after: &str) -> Output {
    let mut ns = Command::new("unshare");
    ns.args(["-Urm", "sh", "-c"])
        .arg(format!(
            "set -e; {setup}; set +e; \"$@\"; rc=$?; {after}; exit $rc"
        ))
        .arg("sh")
        .arg(cmd.get_program())
        .args(cmd.get_args());
    if let Some(d) = cmd.get_current_dir() {
        ns.current_dir(d);
    }
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => ns.env(k, v),
            None => ns.env_remove(k),
        };
    }
    let out = ns.output().expect("unshare (util-linux) runs");
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("unshare: "),
        "a user and mount namespace is needed for this test: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn sh_quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', "'\\''"))
}

#[test]
fn a_store_det_cannot_use_is_named_and_the_build_goes_on() {
    let m = Machine::new("rust-clean", 1, "UTC", "C.UTF-8");
    let dir = m.root.path().to_path_buf();

    // A file.
    let file = dir.join("a-file");
    std::fs::write(&file, b"").unwrap();
    let out = m.det_build(&["--store", file.to_str().unwrap()]);
    assert_ok(&out, "a file as the store");
    let err = stderr(&out);
    assert!(
        err.contains("the store cannot be used (--store)")
            && err.contains(&format!("{}: is not a directory", file.display())),
        "{err}"
    );
    assert!(runs(&m, "debug"), "the outputs are in place");
    // Unless the user required the store.
    let out = m.det_build(&["--store", file.to_str().unwrap(), "--require-verified"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("needs a store"), "{}", stderr(&out));

    // A read-only store (a filled one, mounted read-only): said, not used.
    let ro = dir.join("ro-store");
    assert_ok(
        &m.det_build(&["--store", ro.to_str().unwrap()]),
        "filling the store",
    );
    assert_eq!(entries(&ro).len(), 1);
    std::fs::remove_dir_all(m.file("target")).unwrap();
    let cmd = m.det_build_command(&["--store", ro.to_str().unwrap()]);
    let q = sh_quote(&ro);
    let out = in_namespace(
        &cmd,
        &format!("mount --bind {q} {q}; mount -o remount,bind,ro {q}"),
        "true",
    );
    assert_ok(&out, "a read-only store");
    let err = stderr(&out);
    assert!(
        err.contains(&format!("{}: is not writable", ro.display()))
            && err.contains("Read-only file system")
            && err.contains("building without it"),
        "{err}"
    );
    assert!(runs(&m, "debug"), "built without the store");
    assert_eq!(entries(&ro).len(), 1);

    // A full store: a 64 KiB tmpfs. The outputs cannot be stored (said, naming the file),
    // no partial entry is left, and the build's outputs and manifest are in place.
    let full = dir.join("full-store");
    std::fs::create_dir(&full).unwrap();
    std::fs::remove_dir_all(m.file("target")).unwrap();
    let listing = dir.join("listing");
    let cmd = m.det_build_command(&["--store", full.to_str().unwrap()]);
    let q = sh_quote(&full);
    let out = in_namespace(
        &cmd,
        &format!("mount -t tmpfs -o size=64k tmpfs {q}"),
        &format!("ls -A {q}/entries {q}/tmp > {} 2>&1", sh_quote(&listing)),
    );
    assert_ok(&out, "a full store");
    let err = stderr(&out);
    assert!(
        err.contains("the outputs could not be stored")
            && err.contains(&format!("{}/tmp/", full.display()))
            && err.contains("No space left on device"),
        "{err}"
    );
    assert!(runs(&m, "debug"), "the outputs are in place");
    assert!(m.file("target/det/manifest.json").is_file());
    let listing = std::fs::read_to_string(&listing).unwrap();
    let names: Vec<&str> = listing
        .lines()
        .filter(|l| !l.is_empty() && !l.ends_with(':'))
        .collect();
    assert!(names.is_empty(), "left in the full store: {listing}");
}

#[test]
fn det_store_and_workspace_metadata_and_their_precedence() {
    let m = Machine::new("rust-clean", 2, "UTC", "C.UTF-8");
    let toml = m.file("Cargo.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    // A store inside the workspace, named by the project: relative to the workspace.
    std::fs::write(
        &toml,
        text.replace(
            "[workspace]\n",
            "[workspace]\n[workspace.metadata.det]\nstore = \"det-store\"\n",
        ),
    )
    .unwrap();
    let meta = m.project.join("det-store");
    let env_store = m.project.parent().unwrap().join("env-store");
    let flag_store = m.project.parent().unwrap().join("flag-store");
    let build = |cwd: &Path, args: &[&str], det_store: Option<&Path>| {
        let mut c = m.det_build_command(args);
        c.current_dir(cwd);
        match det_store {
            Some(d) => c.env("DET_STORE", d),
            None => c.env_remove("DET_STORE"),
        };
        let out = c.output().unwrap();
        assert_ok(&out, &format!("{args:?} DET_STORE={det_store:?}"));
        stderr(&out)
    };

    // [workspace.metadata.det] store, from a subdirectory: the workspace's det-store.
    let err = build(&m.project.join("src"), &[], None);
    assert!(err.contains("Stored 1 output"), "{err}");
    let c = closure(&m);
    assert_eq!(entries(&meta), [c.as_str()]);
    // The store inside the workspace is not an input: the same closure, a hit.
    let err = build(&m.project, &[], None);
    assert!(err.contains("Substituted 1 output"), "{err}");
    assert_eq!(closure(&m), c);

    // DET_STORE (relative to the working directory) over the metadata.
    let err = build(&m.project, &[], Some(Path::new("../env-store")));
    assert!(err.contains("Stored 1 output"), "{err}");
    assert_eq!(entries(&env_store), [c.as_str()]);
    assert_eq!(closure(&m), c);

    // --store over DET_STORE.
    let err = build(
        &m.project,
        &["--store", "../flag-store"],
        Some(Path::new("../env-store")),
    );
    assert!(err.contains("Stored 1 output"), "{err}");
    assert_eq!(entries(&flag_store), [c.as_str()]);

    // A DET_STORE det cannot use is named as such.
    let file = m.root.path().join("a-file");
    std::fs::write(&file, b"").unwrap();
    let err = build(&m.project, &[], Some(&file));
    assert!(
        err.contains("the store cannot be used (DET_STORE)")
            && err.contains(&file.display().to_string()),
        "{err}"
    );
    // --no-store: none of them, the same closure.
    let err = build(&m.project, &["--no-store"], Some(&env_store));
    assert!(
        !err.contains("Stored") && !err.contains("Substituted"),
        "{err}"
    );
    assert_eq!(closure(&m), c);
    for s in [&meta, &env_store, &flag_store] {
        assert_eq!(entries(s).len(), 1, "{}", s.display());
    }
}

/// Hard-link (or copy) the toolchain at `from` (bin/rustc, bin/cargo, lib/) to `to`.
fn link_toolchain(from: &Path, to: &Path) {
    for rel in ["bin/rustc", "bin/cargo"] {
        std::fs::create_dir_all(to.join("bin")).unwrap();
        if std::fs::hard_link(from.join(rel), to.join(rel)).is_err() {
            std::fs::copy(from.join(rel), to.join(rel)).unwrap();
        }
    }
    for e in walkdir::WalkDir::new(from.join("lib")).sort_by_file_name() {
        let e = e.unwrap();
        let dest = to.join(e.path().strip_prefix(from).unwrap());
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
        } else if e.file_type().is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(e.path()).unwrap(), &dest).unwrap();
        } else if std::fs::hard_link(e.path(), &dest).is_err() {
            std::fs::copy(e.path(), &dest).unwrap();
        }
    }
}

fn sysroot(extra_env: &[(&str, &str)]) -> PathBuf {
    let mut c = Command::new("rustc");
    c.args(["--print", "sysroot"]);
    for (k, v) in extra_env {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    assert!(out.status.success());
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

fn toolchain_of(m: &Machine) -> (String, String) {
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(m.file("target/det/manifest.json")).unwrap())
            .unwrap();
    let t = &json["toolchains"]["rustc"];
    (
        t["id"].as_str().unwrap().to_string(),
        t["version"].as_str().unwrap().to_string(),
    )
}

#[test]
fn another_toolchain_is_another_closure() {
    let m = Machine::new("rust-clean", 1, "UTC", "C.UTF-8");
    let store = m.root.path().join("store");
    let s = store.to_str().unwrap();
    let out = m.det_build(&["--store", s]);
    assert_ok(&out, "the default toolchain");
    let (c0, (id0, _)) = (closure(&m), toolchain_of(&m));
    // det's own release is part of what decides the outputs (the closure covers `build`).
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(m.file("target/det/manifest.json")).unwrap())
            .unwrap();
    assert_eq!(
        json["build"]["det"],
        format!("cargo-det-build {}", env!("CARGO_PKG_VERSION")).as_str()
    );

    // The same rustc with one more file in its sysroot (a toolchain whose bytes differ:
    // a patched or partly updated installation), given as RUSTC: built with it (its
    // sysroot is the one mounted in the canonical root), a new closure, a miss.
    let copy = m.root.path().join("toolchain");
    link_toolchain(&sysroot(&[]), &copy);
    std::fs::write(copy.join("lib/rustlib/det-test-extra"), b"changed\n").unwrap();
    let rustc = copy.join("bin/rustc");
    // (Without cargo test's LD_LIBRARY_PATH, which would load the original's
    // librustc_driver, and with it the original sysroot.)
    let out = m
        .det_build_command(&["--store", s])
        .env("RUSTC", &rustc)
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .unwrap();
    assert_ok(&out, "the changed toolchain");
    assert!(
        !stderr(&out).contains("Substituted") && stderr(&out).contains("Stored"),
        "{}",
        stderr(&out)
    );
    let (id1, _) = toolchain_of(&m);
    assert_ne!(id1, id0, "the toolchain id covers the sysroot");
    assert_ne!(closure(&m), c0, "another toolchain, another closure");
    assert!(runs(&m, "debug"));

    // Another installed release, where rustup has one (on this machine it may not: the
    // changed sysroot above is then the test).
    let list = Command::new("rustup")
        .args(["toolchain", "list"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let (_, v0) = {
        let out = m.det_build(&["--store", s]);
        assert_ok(&out, "the default toolchain again");
        assert!(stderr(&out).contains("Substituted"), "{}", stderr(&out));
        toolchain_of(&m)
    };
    let other = list
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .find(|name| {
            Command::new("rustc")
                .arg(format!("+{name}"))
                .arg("-V")
                .output()
                .is_ok_and(|o| {
                    o.status.success()
                        && !String::from_utf8_lossy(&o.stdout).contains(&format!("rustc {v0} "))
                })
        });
    match other {
        Some(name) => {
            let out = m.det_build_with(
                &["--store", s],
                &[("RUSTUP_TOOLCHAIN", std::ffi::OsStr::new(name))],
            );
            assert_ok(&out, name);
            let (id2, v2) = toolchain_of(&m);
            assert_ne!(v2, v0, "{name}");
            assert!(id2 != id0 && id2 != id1);
            assert!(
                ![c0.as_str()].contains(&closure(&m).as_str()),
                "{name}: another closure"
            );
            assert_eq!(entries(&store).len(), 3);
        }
        None => eprintln!("rustup has no second release here: the changed sysroot was the test"),
    }
}

#[test]
fn the_real_rustc_is_stored_under_its_manifest_id_and_runs_from_the_store() {
    let m = Machine::new("rust-clean", 1, "UTC", "C.UTF-8");
    let out = m
        .det_build_command(&["--no-store"])
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .unwrap();
    assert_ok(&out, "det-build");
    let (id, version) = toolchain_of(&m);
    let store = m.root.path().join("store");
    std::fs::create_dir(&store).unwrap();
    let add = || {
        m.det_build_command(&[
            "store",
            "--store",
            store.to_str().unwrap(),
            "add-toolchain",
            "rustc",
        ])
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .unwrap()
    };
    let started = std::time::Instant::now();
    let out = add();
    assert_ok(&out, "add-toolchain rustc");
    eprintln!(
        "add-toolchain rustc: {:.1}s",
        started.elapsed().as_secs_f64()
    );
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        said.contains(&format!("stored rustc {version} as toolchain {id}")),
        "the manifest's id: {said}"
    );
    let files = store.join("toolchains").join(&id).join("files");
    let record: serde_json::Value = serde_json::from_slice(
        &std::fs::read(store.join("toolchains").join(&id).join("toolchain.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(record["schema"], "det-toolchain/1");
    assert_eq!(record["binary"], "bin/rustc");
    // The stored bytes are a working toolchain: rustc from the store runs, in its own
    // sysroot.
    let rustc = files.join("bin/rustc");
    let v = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .unwrap();
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stderr));
    assert_eq!(
        String::from_utf8_lossy(&v.stdout).trim(),
        files.display().to_string()
    );
    let again = add();
    assert!(String::from_utf8_lossy(&again.stdout).contains("already in the store"));
    let verify = m
        .det_build_command(&["store", "--store", store.to_str().unwrap(), "verify"])
        .output()
        .unwrap();
    assert_ok(&verify, "store verify");
}
