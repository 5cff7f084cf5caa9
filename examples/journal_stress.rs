use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use stationd::event::NewEvent;
use stationd::journal::{Journal, JournalOptions, StateChanges, StateTree};

fn main() {
    let dir = std::env::args().nth(1).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let (j, _) = Journal::open(JournalOptions::new(&dir, "wh", "st")).unwrap();
    let j = Arc::new(j);
    let progress = Arc::new(AtomicU64::new(0));
    for r in 0..3 {
        let j = j.clone();
        std::thread::spawn(move || loop {
            let v = j.state();
            let _ = v.entries(StateTree::Orders);
            let _ = v.get(StateTree::Meta, b"session");
            let from = j.durable_next().saturating_sub(50);
            let recs = j.pending(from, 100).unwrap_or_default();
            if r == 0 {
                if let Some(l) = recs.last() {
                    let _ = j.ack_blocking(vec![l.seq]);
                }
            }
        });
    }
    {
        let p = progress.clone();
        std::thread::spawn(move || {
            let mut last = 0;
            let mut since = Instant::now();
            loop {
                std::thread::sleep(Duration::from_millis(500));
                let n = p.load(Ordering::Relaxed);
                if n != last { last = n; since = Instant::now(); }
                if since.elapsed() > Duration::from_secs(3) {
                    eprintln!("STALL at {n}, pid {}", std::process::id());
                    let o = std::process::Command::new("gdb")
                        .args(["-p", &std::process::id().to_string(), "-batch", "-nx", "-ex", "thread apply all bt"])
                        .output()
                        .unwrap();
                    std::fs::write(format!("/tmp/stress/stall-{}.txt", std::process::id()), &o.stdout).unwrap();
                    std::process::exit(3);
                }
            }
        });
    }
    let start = Instant::now();
    let mut i = 0u64;
    while start.elapsed() < Duration::from_millis(std::env::args().nth(2).map(|s| s.parse().unwrap()).unwrap_or(60000)) {
        let mut s = StateChanges::default();
        s.put(StateTree::Orders, format!("SO-{}", i % 50), vec![b'x'; 300]);
        s.put(StateTree::Meta, "session", vec![b'y'; 40]);
        if i % 3 == 0 { s.put(StateTree::PrintJobs, format!("job-{i}"), vec![b'z'; 200]); }
        if i % 7 == 0 { s.remove(StateTree::PrintJobs, format!("job-{}", i - 7)); }
        let ev = NewEvent::new("item.verified", serde_json::json!({"sku": "A", "i": i}));
        let evs = if i % 5 == 0 { vec![] } else { vec![ev] };
        j.commit_blocking(evs, s).unwrap();
        i += 1;
        progress.store(i, Ordering::Relaxed);
    }
    println!("ok {i} commits");
}
