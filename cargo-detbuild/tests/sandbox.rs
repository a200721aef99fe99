//! The canonical root itself (det-common `sandbox`), through the binary's hidden
//! `__sandbox-exec` verb: a real mount namespace as root, and a real user namespace as an
//! unprivileged user (uid 65534 through `setpriv`), with the source read-only, the target
//! writable, HOME on the root's tmpfs, and no network with `network: false`.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use det_common::sandbox::{Bind, Spec};

const SCRIPT: &str = r#"
echo "cwd=$(pwd)"
echo "src=$(cat /det/src/hello.txt)"
if touch /det/src/new 2>/dev/null; then echo src-writable; else echo src-read-only; fi
touch /det/target/made && echo target-writable
touch /det/home/h && echo home-writable
echo "uid=$(id -u)"
echo "interfaces=$(tail -n +3 /proc/net/dev | wc -l)"
test -d /usr/bin && echo host-usr
test -f "$HOST_FILE" && echo host-tmp-visible
"#;

fn dirs() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let target = tmp.path().join("target");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::create_dir_all(&target).unwrap();
    std::fs::write(src.join("hello.txt"), "hi").unwrap();
    for d in [tmp.path(), &src, &target] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    (tmp, src, target)
}

fn spec(src: &Path, target: &Path, network: bool) -> Spec {
    Spec {
        binds: vec![
            Bind {
                source: src.to_path_buf(),
                dest: "/det/src".into(),
                writable: false,
            },
            Bind {
                source: target.to_path_buf(),
                dest: "/det/target".into(),
                writable: true,
            },
        ],
        dirs: vec!["/det/home".into()],
        network,
        cwd: "/det/src".into(),
        exec_env: Default::default(),
        finally: Vec::new(),
        finally_shown: false,
    }
}

fn run(prefix: &[&str], spec: &Spec) -> std::process::Output {
    let mut cmd = Command::new(prefix.first().copied().unwrap_or("env"));
    cmd.args(prefix.iter().skip(1))
        .arg(support::det_build())
        .args(["det-build", "__sandbox-exec", "sh", "-c", SCRIPT])
        .env(det_common::sandbox::SPEC_VAR, spec.to_json())
        // The host's /tmp must be the host's inside (not the new root's own tmpfs).
        .env("HOST_FILE", spec.binds[0].source.join("hello.txt"));
    cmd.output().unwrap()
}

fn check(out: &std::process::Output, uid: &str, network: bool) {
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{s}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for want in [
        "cwd=/det/src",
        "src=hi",
        "src-read-only",
        "target-writable",
        "home-writable",
        "host-usr",
        "host-tmp-visible",
        &format!("uid={uid}"),
    ] {
        assert!(s.lines().any(|l| l == want), "missing {want:?} in:\n{s}");
    }
    if !network {
        // Only the loopback interface (down) in the new network namespace.
        assert!(s.contains("interfaces=1"), "{s}");
    }
}

#[test]
fn canonical_root_as_the_current_user() {
    let (_tmp, src, target) = dirs();
    let out = run(&[], &spec(&src, &target, false));
    // SAFETY: getuid has no preconditions.
    let uid = unsafe { libc::getuid() }.to_string();
    check(&out, &uid, false);
    assert!(
        target.join("made").is_file(),
        "the target is the host's dir"
    );
    assert!(!src.join("new").exists(), "the source tree is unchanged");
    // Nothing was mounted in our namespace.
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(" /det/"), "{mounts}");
}

#[test]
fn canonical_root_as_an_unprivileged_user() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        // Already unprivileged: the test above covers the user-namespace path.
        return;
    }
    let required = std::env::var("DET_REQUIRE_TOOLS").as_deref() == Ok("1");
    let setpriv = [
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
    ];
    let works = Command::new(setpriv[0])
        .args(&setpriv[1..])
        .args(["unshare", "-Urm", "true"])
        .status()
        .is_ok_and(|s| s.success());
    if !works {
        assert!(
            !required,
            "setpriv/unshare as uid 65534 failed: unprivileged user namespaces are needed (util-linux's setpriv, kernel.unprivileged_userns_clone=1)"
        );
        eprintln!("skipped: no unprivileged user namespaces here");
        return;
    }
    // The binary must be reachable by uid 65534.
    let bin = support::det_build();
    if Command::new(setpriv[0])
        .args(&setpriv[1..])
        .arg(&bin)
        .arg("--version")
        .status()
        .map_or(true, |s| !s.success())
    {
        assert!(
            !required,
            "{} is not executable by uid 65534",
            bin.display()
        );
        eprintln!("skipped: {} not reachable by uid 65534", bin.display());
        return;
    }
    let (_tmp, src, target) = dirs();
    for network in [true, false] {
        let out = run(&setpriv, &spec(&src, &target, network));
        check(&out, "65534", network);
    }
    assert!(!src.join("new").exists());
}

#[test]
fn a_root_that_fails_half_way_names_the_step_and_leaves_nothing() {
    let (_tmp, src, target) = dirs();
    let mut spec = spec(&src, &target, true);
    let missing = target.join("no-such-dir");
    spec.binds.push(Bind {
        source: missing.clone(),
        dest: "/det/missing".into(),
        writable: false,
    });
    let out = run(&[], &spec);
    assert_eq!(
        out.status.code(),
        Some(det_common::build::SANDBOX_SETUP_FAILED),
        "{out:?}"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&missing.display().to_string()), "{err}");
    assert!(out.stdout.is_empty(), "the command never ran");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(" /det"), "{mounts}");
}
