//! The hardware-in-the-loop guest: Debian's stock kernel and an initramfs with the stationd
//! binary (tests/hil/build.sh), booted in QEMU (TCG) with its console on a channel.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;

/// A built guest: kernel, initramfs and (when asked for) an ext4 disk, in a temp folder.
pub struct Guest {
    dir: tempfile::TempDir,
}

/// A booted guest: killed (a power cut) when dropped.
pub struct Booted {
    pub qemu: Child,
    pub console: mpsc::Receiver<String>,
}

impl Drop for Booted {
    fn drop(&mut self) {
        let _ = self.qemu.kill();
        let _ = self.qemu.wait();
    }
}

impl Guest {
    pub fn build() -> Guest {
        super::require_tool("qemu-system-x86_64", "apt-get install -y qemu-system-x86");
        let dir = tempfile::tempdir().unwrap();
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let out = Command::new("bash")
            .arg(root.join("tests/hil/build.sh"))
            .arg(super::bin())
            .arg(dir.path())
            .output()
            .expect("run tests/hil/build.sh");
        assert!(out.status.success(), "tests/hil/build.sh failed:\n{}", String::from_utf8_lossy(&out.stderr));
        Guest { dir }
    }

    /// Adds an empty ext4 disk of `mib` MiB (`disk.img`).
    pub fn with_disk(self, mib: u64) -> Guest {
        let disk = self.path("disk.img");
        std::fs::File::create(&disk).unwrap().set_len(mib << 20).unwrap();
        let mkfs = super::require_tool("mkfs.ext4", "apt-get install -y e2fsprogs");
        assert!(Command::new(mkfs).args(["-q", "-F"]).arg(&disk).status().unwrap().success(), "mkfs.ext4 failed");
        self
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Powers the guest on with `cmdline` appended to the kernel's and `extra` QEMU options.
    pub fn boot(&self, cmdline: &str, extra: &[String]) -> Booted {
        let mut cmd = Command::new("qemu-system-x86_64");
        cmd.args(["-m", "384", "-smp", "1", "-nographic", "-no-reboot", "-nodefaults", "-serial", "stdio"])
            .arg("-kernel")
            .arg(self.path("vmlinuz"))
            .arg("-initrd")
            .arg(self.path("initramfs.cpio"))
            .args(["-append", &format!("console=ttyS0 quiet panic=-1 {cmdline}")]);
        if self.path("disk.img").exists() {
            cmd.arg("-drive").arg(format!("file={},format=raw,if=virtio", self.path("disk.img").display()));
        }
        let mut qemu = cmd
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start qemu-system-x86_64");
        let stdout = qemu.stdout.take().unwrap();
        let (tx, console) = mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line.trim_end_matches('\r').to_string()).is_err() {
                    break;
                }
            }
        });
        Booted { qemu, console }
    }
}
