//! Cost of saving tail checkpoints, which the tailer does after every
//! acknowledged batch.
//!
//! Run with `cargo bench --bench checkpoint`. The store lives in a temporary
//! directory on the file system of `TMPDIR`, so the numbers depend on that
//! disk. The cases:
//!
//! - `journal_append/1_file` and `journal_append/10_files`: move the offsets
//!   of 1 or 10 files and append them to the journal, the work done after
//!   each acknowledged batch;
//! - `snapshot/1000_files`: rewrite the whole snapshot of 1,000 files with
//!   fsync and an atomic rename, the work done about once a second, and what
//!   each batch would cost if the snapshot were written after every one.
//!
//! Compare the per-batch cost with the time one batch of 1,000 lines takes
//! to read, redact and export (see `scripts/bench-tail`).

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use hush::source::tail::checkpoint::CheckpointStore;
use hush::source::tail::file::{FileId, Fingerprint};

fn store_with_files(dir: &std::path::Path, files: u64) -> CheckpointStore {
    let mut store = CheckpointStore::load(dir).expect("load the checkpoint store");
    for inode in 0..files {
        let path = PathBuf::from(format!("/var/log/pods/app-{inode}/container/0.log"));
        let fingerprint = Fingerprint::of_bytes(format!("first line of {inode}").as_bytes());
        store.set(FileId { dev: 1, inode }, fingerprint, 0, &path);
    }
    store.write().expect("write the first snapshot");
    store
}

fn journal_append(c: &mut Criterion) {
    let mut group = c.benchmark_group("journal_append");
    for files in [1u64, 10] {
        let temp = tempfile::tempdir().expect("temp dir");
        let mut store = store_with_files(temp.path(), 1000);
        let mut offset = 0u64;
        group.bench_function(
            format!("{files}_file{}", if files == 1 { "" } else { "s" }),
            |b| {
                b.iter(|| {
                    offset += 100;
                    for inode in 0..files {
                        store.set_offset(FileId { dev: 1, inode }, offset);
                    }
                    store.append_journal().expect("append to the journal");
                    // Keep the journal from growing through the whole run, as
                    // the snapshot does about once a second in the agent.
                    if offset.is_multiple_of(1_000_000) {
                        store.write().expect("write a snapshot");
                    }
                });
            },
        );
        black_box(&store);
    }
    group.finish();
}

fn snapshot(c: &mut Criterion) {
    let temp = tempfile::tempdir().expect("temp dir");
    let mut store = store_with_files(temp.path(), 1000);
    let mut offset = 0u64;
    c.bench_function("snapshot/1000_files", |b| {
        b.iter(|| {
            offset += 100;
            store.set_offset(FileId { dev: 1, inode: 0 }, offset);
            store.write().expect("write a snapshot");
        });
    });
}

criterion_group!(benches, journal_append, snapshot);
criterion_main!(benches);
