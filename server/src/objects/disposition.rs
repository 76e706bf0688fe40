//! `Content-Disposition` for downloads: the original filename, safe whatever it contains.

/// `Content-Disposition: attachment` for a download, safe for any filename (RFC 6266 / 5987):
/// an ASCII fallback with quotes, backslashes, controls and path separators replaced, plus the
/// exact name percent-encoded as UTF-8 in `filename*`.
pub fn attachment_disposition(filename: &str) -> String {
    disposition("attachment", filename)
}

/// `Content-Disposition: inline` for a preview, with the same safe filename (kept for "save
/// as" from the browser's viewer).
pub fn inline_disposition(filename: &str) -> String {
    disposition("inline", filename)
}

fn disposition(kind: &str, filename: &str) -> String {
    let base = filename.rsplit(['/', '\\']).next().unwrap_or_default();
    let base = if base.trim().is_empty() {
        "download"
    } else {
        base
    };
    let fallback: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && !matches!(c, '"' | '\\' | '%' | ';') || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded = percent_encoding::utf8_percent_encode(base, RFC5987_ATTR).to_string();
    format!("{kind}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

/// RFC 5987 attr-char: ALPHA / DIGIT / "!#$&+-.^_`|~"; everything else is percent-encoded.
const RFC5987_ATTR: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previews_are_inline_with_the_same_safe_name() {
        assert_eq!(
            inline_disposition("a\"b.png"),
            "inline; filename=\"a_b.png\"; filename*=UTF-8''a%22b.png"
        );
    }

    #[test]
    fn hostile_filenames_become_safe_attachments() {
        assert_eq!(
            attachment_disposition("report.pdf"),
            "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf"
        );
        let hostile = attachment_disposition("../../etc/pa\"ss\r\nX-Evil: 1;.txt");
        assert!(
            !hostile.contains('\r') && !hostile.contains('\n'),
            "{hostile}"
        );
        assert!(
            hostile.starts_with("attachment; filename=\"pa_ss__X-Evil: 1_.txt\""),
            "{hostile}"
        );
        assert!(
            hostile.ends_with("filename*=UTF-8''pa%22ss%0D%0AX-Evil%3A%201%3B.txt"),
            "{hostile}"
        );
        let unicode = attachment_disposition("résumé 📄.txt");
        assert!(
            unicode.contains("filename*=UTF-8''r%C3%A9sum%C3%A9%20%F0%9F%93%84.txt"),
            "{unicode}"
        );
        assert!(unicode.is_ascii());
        assert!(attachment_disposition("a\\b/").contains("filename=\"download\""));
    }
}
