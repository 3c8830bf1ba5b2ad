//! The dossier PDF of a candidature with ten 2 MB pieces, PDF and images
//! mixed: five scans as PNG, five PDFs each holding such a scan. Prints the
//! process's peak memory at the end (`VmHWM`), for `docs/performance.md`.
//!
//! `cargo bench -p guichet-pdf --bench dossier_pdf`

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, Criterion};
use guichet_pdf::{render, Attachment, Body, Format, PieceLine, Printed, Section};

/// A scan of about `bytes` bytes: noise, which no compression shrinks.
fn scan(bytes: usize, seed: u64) -> Vec<u8> {
    let side = ((bytes / 3) as f64).sqrt() as u32;
    let mut state = seed | 1;
    let pixels: Vec<u8> = (0..side as usize * side as usize * 3)
        .map(|_| {
            // xorshift: reproducible noise.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, side, side);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().expect("png header");
        writer.write_image_data(&pixels).expect("png data");
    }
    out
}

fn printed(attachments: Vec<Attachment>) -> Printed {
    Printed {
        title: "Zoé Lefèvre — Contrat doctoral".into(),
        subtitle: "École doctorale".into(),
        cover: vec![("Dossier".into(), "d-2027-0042".into())],
        sections: vec![Section {
            title: "Identité".into(),
            body: Body::Fields(vec![("Nom".into(), "Lefèvre".into())]),
        }],
        pieces_heading: "Pièces".into(),
        pieces: (0..10)
            .map(|n| PieceLine {
                label: format!("Pièce {n}"),
                status: "Déposée".into(),
                comment: None,
            })
            .collect(),
        attachments,
        not_included: "{piece}: {reason}".into(),
        reasons: Default::default(),
    }
}

fn pieces() -> Vec<Attachment> {
    const SIZE: usize = 2_000_000;
    (0..10u64)
        .map(|n| {
            let png = scan(SIZE, n + 1);
            let content = if n % 2 == 0 {
                (Format::Png, Arc::new(png))
            } else {
                // A PDF holding the scan, as a scanner would make it.
                let scanned = printed(vec![Attachment {
                    label: "scan".into(),
                    content: Ok((Format::Png, Arc::new(png))),
                }]);
                let pdf = render(&scanned).expect("scan as PDF").bytes;
                (Format::Pdf, Arc::new(pdf))
            };
            Attachment {
                label: format!("Pièce {n}"),
                content: Ok(content),
            }
        })
        .collect()
}

fn dossier_pdf(c: &mut Criterion) {
    let dossier = printed(pieces());
    let size: usize = dossier
        .attachments
        .iter()
        .filter_map(|a| a.content.as_ref().ok().map(|(_, bytes)| bytes.len()))
        .sum();
    let mut group = c.benchmark_group("dossier_pdf");
    group.sample_size(10);
    group.bench_function(format!("ten pieces, {} MB", size / 1_000_000), |b| {
        b.iter(|| black_box(render(black_box(&dossier)).expect("rendered")))
    });
    group.finish();
}

fn peak_memory() {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    if let Some(line) = status.lines().find(|l| l.starts_with("VmHWM")) {
        println!(
            "peak memory of the benchmark process: {}",
            line.trim_start_matches("VmHWM:").trim()
        );
    }
}

criterion_group!(benches, dossier_pdf);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    peak_memory();
}
