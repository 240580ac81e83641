//! Ingest and rebuild throughput of the message model over the test corpus plus a generated message
//! with a 30 MiB attachment. Prints MB/s and messages/s; not a test.
//!
//! Run: `cargo run --release --example message_throughput [-- ROUNDS]`

#[path = "../tests/support/corpus.rs"]
#[allow(dead_code)] // the bench uses part of the test corpus helpers
mod corpus;

use std::time::{Duration, Instant};

use wildduck::core::message::{BlobList, ingest};

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200);
    let messages: Vec<Vec<u8>> = corpus::corpus().into_iter().map(|(_, raw)| raw).collect();
    println!(
        "corpus: {} messages, {} bytes in all; {rounds} rounds",
        messages.len(),
        messages.iter().map(Vec::len).sum::<usize>()
    );
    report("corpus", &messages, rounds);
    let large = vec![corpus::large_attachment_message(30 * 1024 * 1024)];
    report("30 MiB attachment", &large, 5);
}

fn report(label: &str, messages: &[Vec<u8>], rounds: usize) {
    let bytes: usize = messages.iter().map(Vec::len).sum();
    let mut ingest_time = Duration::ZERO;
    let mut rebuild_time = Duration::ZERO;
    for _ in 0..rounds {
        for raw in messages {
            let start = Instant::now();
            let ingested = ingest(raw).expect("corpus messages ingest");
            ingest_time += start.elapsed();
            let start = Instant::now();
            let rebuilt = ingested
                .message
                .rebuild(&BlobList(&ingested.blobs))
                .expect("rebuild");
            rebuild_time += start.elapsed();
            assert_eq!(rebuilt.len() as u64, ingested.message.size);
        }
    }
    let total = (bytes * rounds) as f64 / 1e6;
    let count = (messages.len() * rounds) as f64;
    for (what, t) in [("ingest", ingest_time), ("rebuild", rebuild_time)] {
        let secs = t.as_secs_f64();
        println!(
            "{label:>18} {what:<8} {:>9.1} MB/s {:>10.0} messages/s",
            total / secs,
            count / secs
        );
    }
}
