//! Delivering the engine's outbox: SMTP through lettre, or `.eml` files.
//!
//! A mail leaves the outbox only once the SMTP server accepted it (or its file
//! is written). Failures are retried with a growing delay; the outbox lives in
//! the store, so queued mails survive restarts. The Message-ID is derived from
//! the mail's stable id: a mail re-sent after a crash carries the same one.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use guichet_engine::{Engine, OutboxMail, SledStore};
use lettre::message::{header, Attachment, Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tokio::sync::{watch, Notify};

/// Where mails go.
pub enum Transport {
    /// An SMTP server (`smtp://`, `smtps://`, with credentials and `?tls=` as lettre reads them).
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// `.eml` files in a folder, for running without a mail server.
    Files(PathBuf),
}

impl Transport {
    /// The transport for an `--smtp` URL, or `.eml` files in `folder` without one.
    pub fn new(smtp: Option<&str>, folder: PathBuf) -> anyhow::Result<Self> {
        match smtp {
            Some(url) => Ok(Self::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| anyhow::anyhow!("invalid SMTP URL `{url}`: {e}"))?
                    .build(),
            )),
            None => {
                std::fs::create_dir_all(&folder)?;
                Ok(Self::Files(folder))
            }
        }
    }

    fn describe(&self) -> String {
        match self {
            Self::Smtp(_) => "SMTP".into(),
            Self::Files(folder) => format!("files in {}", folder.display()),
        }
    }
}

/// Addressing shared by every mail.
pub struct Envelope {
    /// `From:` of every mail.
    pub from: Mailbox,
    /// Domain of the Message-IDs.
    pub domain: String,
}

/// Turns an outbox entry into a MIME message: UTF-8, a text part and, when the
/// definition gives one, an HTML alternative; the letters it issued attached
/// as PDF.
pub fn build_message(mail: &OutboxMail, envelope: &Envelope) -> anyhow::Result<Message> {
    let mut builder = Message::builder()
        .from(envelope.from.clone())
        .subject(mail.subject.clone())
        .message_id(Some(format!("<{}@{}>", mail.id, envelope.domain)));
    for address in &mail.to {
        builder = builder.to(address.parse()?);
    }
    let text = SinglePart::builder()
        .header(header::ContentType::TEXT_PLAIN)
        .body(mail.text.clone());
    let body = match &mail.html {
        Some(html) => MultiPart::alternative().singlepart(text).singlepart(
            SinglePart::builder()
                .header(header::ContentType::TEXT_HTML)
                .body(html.clone()),
        ),
        None if mail.letters.is_empty() => return Ok(builder.singlepart(text)?),
        None => MultiPart::mixed().singlepart(text),
    };
    if mail.letters.is_empty() {
        return Ok(builder.multipart(body)?);
    }
    let mut mixed = match &mail.html {
        Some(_) => MultiPart::mixed().multipart(body),
        None => body,
    };
    let dossier = mail.dossier.as_deref().unwrap_or("");
    for letter in &mail.letters {
        let pdf = crate::letters::render(letter)?;
        let name = crate::letters::file_name(dossier, letter);
        let content_type = header::ContentType::parse("application/pdf")?;
        mixed = mixed.singlepart(Attachment::new(name).body(pdf.bytes, content_type));
    }
    Ok(builder.multipart(mixed)?)
}

/// Delay before the `attempt`-th retry: 1 s, 2 s, 4 s… up to 5 minutes.
fn backoff(attempt: u32) -> Duration {
    Duration::from_secs(1u64 << attempt.min(8)).min(Duration::from_secs(300))
}

/// How many mails the worker reads from the outbox at a time.
const OUTBOX_PAGE: usize = 64;

/// Drains the outbox until `stop` says so.
pub async fn run_worker(
    engine: Arc<Engine<SledStore>>,
    transport: Transport,
    envelope: Envelope,
    wake: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) {
    tracing::info!(transport = %transport.describe(), "mail delivery started");
    let envelope = Arc::new(envelope);
    let mut failures: HashMap<String, (u32, Instant)> = HashMap::new();
    // The last mail of the page read: the outbox is read a page at a time,
    // in the order mails were queued, however many wait.
    let mut after: Option<OutboxMail> = None;
    loop {
        let pending = {
            let (engine, after) = (Arc::clone(&engine), after.take());
            tokio::task::spawn_blocking(move || engine.outbox_page(after.as_ref(), OUTBOX_PAGE))
                .await
        };
        match pending {
            Ok(Ok(mails)) => {
                if mails.len() == OUTBOX_PAGE {
                    after = mails.last().cloned();
                }
                for mail in mails {
                    if *stop.borrow() {
                        return;
                    }
                    if failures
                        .get(&mail.id)
                        .is_some_and(|(_, retry_at)| Instant::now() < *retry_at)
                    {
                        continue;
                    }
                    // A mail with letters prints them: off the async threads.
                    let built = {
                        let (mail, envelope) = (mail.clone(), Arc::clone(&envelope));
                        tokio::task::spawn_blocking(move || build_message(&mail, &envelope))
                            .await
                            .unwrap_or_else(|error| Err(anyhow::anyhow!(error)))
                    };
                    let delivered = match built {
                        Ok(message) => deliver(&transport, &mail, message).await,
                        Err(error) => {
                            // An address that does not parse never will: the
                            // mail leaves the outbox instead of being retried forever.
                            tracing::error!(%error, id = %mail.id, to = ?mail.to, "mail can never be sent: dropped");
                            Ok(())
                        }
                    };
                    match delivered {
                        Ok(()) => {
                            failures.remove(&mail.id);
                            // The mail goes to the blocking task and comes back: its
                            // letters (PDFs) are not copied to remove it.
                            let engine = Arc::clone(&engine);
                            let removed = tokio::task::spawn_blocking(move || {
                                let removed = engine.mark_sent(&mail);
                                (removed, mail)
                            })
                            .await;
                            match removed {
                                Ok((Ok(()), mail)) => {
                                    tracing::info!(mail = %mail.mail, id = %mail.id, to = ?mail.to, "mail sent")
                                }
                                Ok((Err(error), mail)) => {
                                    let error = guichet_engine::with_causes(&error);
                                    tracing::error!(%error, id = %mail.id, "mail sent but still in the outbox")
                                }
                                Err(error) => tracing::error!(%error, "mail worker task failed"),
                            }
                        }
                        Err(error) => {
                            let attempts = failures.get(&mail.id).map_or(0, |(n, _)| *n) + 1;
                            let delay = backoff(attempts);
                            tracing::warn!(%error, id = %mail.id, attempts, retry_in = ?delay, "mail not sent");
                            failures.insert(mail.id.clone(), (attempts, Instant::now() + delay));
                        }
                    }
                }
            }
            Ok(Err(error)) => {
                let error = guichet_engine::with_causes(&error);
                tracing::error!(%error, "cannot read the outbox")
            }
            Err(error) => tracing::error!(%error, "mail worker task failed"),
        }
        if after.is_some() {
            // More mails wait beyond the page just read.
            continue;
        }
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stop.changed() => return,
        }
    }
}

async fn deliver(transport: &Transport, mail: &OutboxMail, message: Message) -> anyhow::Result<()> {
    match transport {
        Transport::Smtp(smtp) => {
            smtp.send(message).await?;
        }
        Transport::Files(folder) => {
            // Named by the mail's id: writing it twice leaves one file.
            let path = folder.join(format!("{}.eml", mail.id));
            let bytes = message.formatted();
            tokio::fs::write(&path, bytes).await?;
            tracing::info!(path = %path.display(), to = ?mail.to, subject = %mail.subject, "mail written");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Zoé's mail `id` of dossier `d1`, with both parts and `letters`.
    fn mail(id: &str, subject: &str, letters: Vec<guichet_engine::IssuedLetter>) -> OutboxMail {
        OutboxMail {
            id: id.into(),
            dossier: Some("d1".into()),
            mail: "received".into(),
            to: vec!["zoe@example.org".into()],
            subject: subject.into(),
            text: "Bonjour Zoé".into(),
            html: Some("<p>Bonjour Zoé</p>".into()),
            letters,
            queued_at: "2027-03-10T09:00:00Z".parse().expect("time"),
        }
    }

    /// The message `mail` becomes, as sent.
    fn sent(mail: &OutboxMail) -> String {
        let envelope = Envelope {
            from: "Scolarité <scolarite@example.org>"
                .parse()
                .expect("mailbox"),
            domain: "example.org".into(),
        };
        String::from_utf8(build_message(mail, &envelope).expect("message").formatted())
            .expect("utf-8")
    }

    #[test]
    fn messages_are_utf8_with_a_stable_id_and_both_parts() {
        let text = sent(&mail(
            "d1-00000002-00",
            "Dossier réceptionné : Océanographie",
            Vec::new(),
        ));
        assert!(
            text.contains("Message-ID: <d1-00000002-00@example.org>"),
            "{text}"
        );
        assert!(text.contains("multipart/alternative"), "{text}");
        assert!(text.contains("text/plain; charset=utf-8"), "{text}");
        assert!(text.contains("text/html; charset=utf-8"), "{text}");
        // The subject is encoded for SMTP (RFC 2047), not sent as raw UTF-8.
        assert!(text.contains("Subject: Dossier =?utf-8?b?"), "{text}");
    }

    #[test]
    fn issued_letters_travel_as_pdf_attachments_beside_both_parts() {
        let letter = guichet_engine::IssuedLetter {
            letter: "lettre_admission".into(),
            candidature: "c1".into(),
            mail: "avis".into(),
            language: "fr".into(),
            institution: "Institut".into(),
            recipient: vec!["Zoé Lefèvre".into()],
            title: "Admission".into(),
            text: "Madame, Monsieur,".into(),
            place: Some("Marseille".into()),
            day: "2027-06-01".into(),
            signature: vec!["La directrice".into()],
            issued_at: "2027-06-01T09:00:00Z".parse().expect("time"),
        };
        let text = sent(&mail("d1-00000009-00", "Avis", vec![letter]));
        let mixed = text.find("multipart/mixed").expect("a mixed message");
        let alternative = text.find("multipart/alternative").expect("both parts");
        assert!(mixed < alternative, "{text}");
        assert!(text.contains("Content-Type: application/pdf"), "{text}");
        assert!(
            text.contains("filename=\"lettre-admission-d1-c1.pdf\""),
            "{text}"
        );
    }

    #[test]
    fn retries_wait_longer_each_time_up_to_five_minutes() {
        assert_eq!(backoff(1), Duration::from_secs(2));
        assert_eq!(backoff(3), Duration::from_secs(8));
        assert_eq!(backoff(30), Duration::from_secs(256));
        assert!(backoff(8) <= Duration::from_secs(300));
    }
}
