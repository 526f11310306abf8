//! What the cluster slot index (`cluster::slot_index`) costs on the write path: creating and
//! deleting a key in database 0 with and without the index, and overwriting an existing key (which
//! never touches it). `cargo bench -p redlink-engine --bench slot_index`; numbers in
//! BENCHMARKS.md.

use criterion::{Criterion, criterion_group, criterion_main};
use redlink_engine::store::{Blob, Store, Value};

fn keys() -> Vec<Vec<u8>> {
    (0..4096)
        .map(|i| format!("key:{i:012}").into_bytes())
        .collect()
}

fn benches(c: &mut Criterion) {
    let keys = keys();
    let mut g = c.benchmark_group("slot_index");
    for indexed in [false, true] {
        let store = Store::new(16);
        let db = store.db(0);
        if indexed {
            db.enable_slot_index();
        }
        let label = if indexed { "slot index" } else { "no index" };
        let mut i = 0usize;
        g.bench_function(format!("create + delete a key, {label}"), |b| {
            b.iter(|| {
                let k = &keys[i & 4095];
                i += 1;
                let mut l = db.lock(k, 1);
                l.set(k, Value::Str(Blob::from_slice(b"xxx")), 0);
                l.remove(k);
            })
        });
        for k in &keys {
            db.lock(k, 1)
                .set(k, Value::Str(Blob::from_slice(b"xxx")), 0);
        }
        g.bench_function(format!("overwrite a key, {label}"), |b| {
            b.iter(|| {
                let k = &keys[i & 4095];
                i += 1;
                db.lock(k, 1)
                    .set(k, Value::Str(Blob::from_slice(b"yyy")), 0);
            })
        });
    }
    g.finish();
}

criterion_group!(slot_index, benches);
criterion_main!(slot_index);
