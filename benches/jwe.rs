//! Decryptions per second of a typical encrypted request: a set-PIN body
//! (`{"pin":"1234"}`) as a compact JWE, RSA-OAEP-256 + A256GCM to a 2048-bit
//! platform key, through [`PlatformKeys::decrypt`] exactly as the HTTP
//! extractor calls it (parse, header allow-list, RSA unwrap, GCM open). One
//! thread, so the figure is per core. Also: a JWE whose key does not unwrap
//! (the random-CEK path must cost the same), and encrypting an answer.
//!
//! Before criterion's wall-clock figures, it prints decryptions per second of
//! this thread's CPU time (Linux schedstat), which a machine shared with other
//! work does not distort.
//!
//! `cargo bench --bench jwe -- --warm-up-time 1 --measurement-time 5`

use std::hint::black_box;

use antaca::crypto::jwe::{KeyAlgorithm, PlatformKey, PlatformKeys};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    let (platform, _) = PlatformKey::generate().unwrap();
    let to_platform = platform.recipient();
    let kid = platform.kid().to_owned();
    let keys = PlatformKeys::new(platform, Vec::new());
    let request = to_platform
        .encrypt(br#"{"pin":"1234"}"#, KeyAlgorithm::RsaOaep256, Some(&kid))
        .unwrap();
    let mut parts: Vec<String> = request.split('.').map(str::to_owned).collect();
    let mut wrapped = URL_SAFE_NO_PAD.decode(&parts[1]).unwrap();
    wrapped[7] ^= 1;
    parts[1] = URL_SAFE_NO_PAD.encode(wrapped);
    let forged = parts.join(".");

    if let Some(per_cpu_second) = decryptions_per_cpu_second(&keys, &request) {
        println!("jwe/decrypt set-PIN request: {per_cpu_second:.0} decryptions per CPU-second (one thread)");
    }

    let mut group = c.benchmark_group("jwe");
    group.throughput(Throughput::Elements(1));
    group.bench_function("decrypt set-PIN request (RSA-OAEP-256, 2048)", |b| {
        b.iter(|| keys.decrypt(black_box(&request), 0).unwrap())
    });
    group.bench_function("decrypt with an unwrappable key (random CEK path)", |b| {
        b.iter(|| keys.decrypt(black_box(&forged), 0).unwrap_err())
    });
    let (client, _) = PlatformKey::generate().unwrap();
    let to_client = client.recipient();
    let answer =
        serde_json::json!({"cardId": 1, "cardNo": "5399990012345678", "cvv": "123", "exp": "2029-11-30"}).to_string();
    group.bench_function("encrypt a full-card answer", |b| {
        b.iter(|| {
            to_client
                .encrypt(black_box(answer.as_bytes()), KeyAlgorithm::RsaOaep256, None)
                .unwrap()
        })
    });
    group.finish();
}

/// This thread's time on a CPU, in nanoseconds (Linux).
fn thread_cpu_ns() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

fn decryptions_per_cpu_second(keys: &PlatformKeys, request: &str) -> Option<f64> {
    const DECRYPTIONS: u32 = 2_000;
    let started = thread_cpu_ns()?;
    for _ in 0..DECRYPTIONS {
        black_box(keys.decrypt(black_box(request), 0).unwrap());
    }
    let spent = thread_cpu_ns()?.checked_sub(started)?;
    Some(f64::from(DECRYPTIONS) / (spent as f64 / 1e9))
}

criterion_group!(benches, bench);
criterion_main!(benches);
