//! What the server's benches print of a series of timings (included by
//! `#[path]`: a file of this folder is no bench of its own).

use std::time::Duration;

/// Prints the median, 95th percentile and maximum of `samples`, in
/// milliseconds, as `what: …`.
pub fn report(what: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let pick = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    println!(
        "{what}: median {:.2} ms, p95 {:.2} ms, max {:.2} ms ({} runs)",
        ms(pick(0.5)),
        ms(pick(0.95)),
        ms(*samples.last().expect("samples")),
        samples.len()
    );
}
