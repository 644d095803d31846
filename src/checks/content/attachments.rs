//! Attachments: executables and scripts, double extensions
//! (`invoice.pdf.exe`, or a right-to-left override that flips the name),
//! macro-enabled Office files, archives holding executables, and
//! password-protected ZIPs (PPAP) — read from names and the ZIP directory,
//! never executed, decompressed or decrypted.

use super::ContentWords;
use super::Profile;
use super::zip;
use super::{MAX_LISTED, bounded};
use crate::checks::CheckId;
use crate::checks::big_parts;
use crate::checks::facts::{BOOLS, Facts, Field, yes};
use crate::checks::row::Row;
use crate::i18n::Lang;
use mail_parser::{Message, MimeHeaders};
use serde::{Deserialize, Serialize};

/// Attachments examined per message.
const MAX_ATTACHMENTS: usize = 100;

/// Run by a double click on Windows or macOS, or mounted to hide what runs.
const EXECUTABLE: &[&str] = &[
    "exe",
    "scr",
    "com",
    "pif",
    "bat",
    "cmd",
    "vbs",
    "vbe",
    "js",
    "jse",
    "wsf",
    "wsh",
    "hta",
    "msi",
    "msix",
    "ps1",
    "lnk",
    "jar",
    "cpl",
    "reg",
    "dll",
    "app",
    "iso",
    "img",
    "vhd",
    "vhdx",
    "appx",
    "appref-ms",
    "url",
    "chm",
    "sh",
];
/// What a double extension pretends to be.
const DECOY: &[&str] = &[
    "pdf", "doc", "docx", "xls", "xlsx", "ppt", "pptx", "txt", "rtf", "csv", "jpg", "jpeg", "png",
    "gif", "zip", "htm", "html", "mp3", "mp4",
];
const MACRO_OFFICE: &[&str] = &[
    "docm", "dotm", "xlsm", "xltm", "xlam", "pptm", "potm", "ppsm", "ppam", "sldm",
];
/// The part of an Office Open XML package that holds VBA macros.
const VBA_PART: &str = "vbaproject.bin";
const RTL_OVERRIDE: char = '\u{202E}';

/// One attachment and what it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Attachment {
    /// The file name given, cut to 200 characters.
    pub name: String,
    /// type/subtype as declared.
    pub content_type: String,
    /// Decoded size in bytes.
    pub size: usize,
    /// Of executable, double_extension, macro, archive_executable,
    /// encrypted_archive.
    pub flags: Vec<String>,
}

/// Attachments, from their names and ZIP directories (never run, unpacked or
/// decrypted).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct AttachmentFinding {
    /// At most 20 attachments, in order.
    pub files: Vec<Attachment>,
    /// Every attachment counted, listed or not (up to 100 examined).
    pub count: usize,
}

impl AttachmentFinding {
    /// Whether any examined attachment carries `flag`.
    pub fn any(&self, flag: &str) -> bool {
        self.files.iter().any(|f| f.flags.iter().any(|g| g == flag))
    }
}

pub fn attachments(message: &Message<'_>) -> AttachmentFinding {
    let mut finding = AttachmentFinding::default();
    for part in message.attachments().take(MAX_ATTACHMENTS) {
        finding.count += 1;
        let name = part.attachment_name().unwrap_or_default();
        let content_type = part
            .content_type()
            .map(|ct| match ct.subtype() {
                Some(sub) => format!("{}/{sub}", ct.ctype()),
                None => ct.ctype().to_string(),
            })
            .unwrap_or_default();
        let flags = flags(name, part.contents());
        // Flagged files are kept first, so the 20 listed carry the findings.
        let file = Attachment {
            name: bounded(name),
            content_type: bounded(&content_type),
            // A big part the parser saw only the start of (big_parts.rs).
            size: big_parts::cut_size(part).unwrap_or(part.contents().len()),
            flags,
        };
        if finding.files.len() < MAX_LISTED {
            finding.files.push(file);
        } else if !file.flags.is_empty()
            && let Some(plain) = finding.files.iter().position(|f| f.flags.is_empty())
        {
            finding.files[plain] = file;
        }
    }
    finding
}

fn extensions(name: &str) -> Vec<String> {
    let name = name.trim().trim_end_matches('.').to_ascii_lowercase();
    name.split('.')
        .skip(1)
        .map(|e| e.trim().to_string())
        .collect()
}

/// The findings for one file: its name, and its bytes when it is a ZIP.
pub fn flags(name: &str, bytes: &[u8]) -> Vec<String> {
    let mut flags: Vec<&str> = Vec::new();
    let exts = extensions(name);
    let last = exts.last().map(String::as_str).unwrap_or_default();
    if EXECUTABLE.contains(&last) || bytes.starts_with(b"MZ") {
        flags.push("executable");
    }
    let decoy = exts.len() >= 2 && DECOY.contains(&exts[exts.len() - 2].as_str());
    if (decoy && EXECUTABLE.contains(&last)) || name.contains(RTL_OVERRIDE) {
        flags.push("double_extension");
    }
    if MACRO_OFFICE.contains(&last) {
        flags.push("macro");
    }
    if zip::is_zip(bytes) {
        let entries = zip::entries(bytes);
        let has_vba = entries
            .iter()
            .any(|e| e.name.to_ascii_lowercase().ends_with(VBA_PART));
        if has_vba && !flags.contains(&"macro") {
            flags.push("macro");
        }
        let inner_executable = entries.iter().any(|e| {
            let inner = extensions(&e.name);
            inner
                .last()
                .is_some_and(|x| EXECUTABLE.contains(&x.as_str()))
        });
        if inner_executable {
            flags.push("archive_executable");
        }
        if entries.iter().any(|e| e.encrypted) {
            flags.push("encrypted_archive");
        }
    }
    flags.into_iter().map(String::from).collect()
}

/// The flags of [`Attachment::flags`] that rules test, one field each.
const FLAGS: [&str; 5] = [
    "executable",
    "double_extension",
    "macro",
    "archive_executable",
    "encrypted_archive",
];

/// The rule fields of `attachments`.
pub const FIELDS: &[Field] = &[
    ("profile", Profile::WORDS),
    ("present", BOOLS),
    ("executable", BOOLS),
    ("double_extension", BOOLS),
    ("macro", BOOLS),
    ("archive_executable", BOOLS),
    ("encrypted_archive", BOOLS),
];

impl AttachmentFinding {
    pub fn facts(&self, profile: Profile, facts: &mut Facts) {
        let check = CheckId::Attachments;
        facts.put(check, "profile", profile.as_str());
        facts.put(check, "present", yes(self.count > 0));
        for flag in FLAGS {
            facts.put(check, flag, yes(self.any(flag)));
        }
    }
}

impl AttachmentFinding {
    pub fn row(&self, lang: Lang) -> Row {
        let (t, w) = (lang.ui(), ContentWords::of(lang));
        let files = self
            .files
            .iter()
            .map(|f| {
                let flags = if f.flags.is_empty() {
                    String::new()
                } else {
                    format!(" — {}", f.flags.join(", "))
                };
                format!(
                    "{} ({}, {} {}){flags}",
                    f.name, f.content_type, f.size, t.bytes
                )
            })
            .collect();
        Row {
            check: CheckId::Attachments,
            tone: None,
            name: format!("{} ({})", w.attachments, self.count),
            word: None,
            setup: "",
            about: w.about_attachments,
            detail: if self.count == 0 {
                w.no_attachments.into()
            } else {
                String::new()
            },
            records: files,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_run() {
        assert_eq!(flags("setup.exe", b""), vec!["executable"]);
        assert_eq!(
            flags("Invoice.PDF.exe", b""),
            vec!["executable", "double_extension"]
        );
        assert_eq!(flags("report.docm", b""), vec!["macro"]);
        assert_eq!(flags("photo.jpg", b"MZ\x90\x00"), vec!["executable"]);
        assert_eq!(
            flags("inv\u{202E}fdp.exe", b""),
            vec!["executable", "double_extension"]
        );
        assert!(flags("minutes.2025.pdf", b"%PDF").is_empty());
        assert!(flags("", b"").is_empty());
    }
}
