//! Binary resources as their own content (binary.html#rest): the bytes a stored Binary
//! holds, and the Binary that bytes sent in their own media type become.

use base64::Engine as _;
use sonic_rs::JsonValueTrait;

/// A stored Binary's `contentType` and its `data` decoded (empty when it has none); `None`
/// when `json` is not a Binary with a content type.
///
/// ```
/// let json = br#"{"resourceType":"Binary","contentType":"text/plain","data":"aGk="}"#;
/// assert_eq!(engine::binary_content(json), Some(("text/plain".to_owned(), b"hi".to_vec())));
/// ```
pub fn binary_content(json: &[u8]) -> Option<(String, Vec<u8>)> {
    let binary: sonic_rs::Value = sonic_rs::from_slice(json).ok()?;
    if binary["resourceType"].as_str() != Some("Binary") {
        return None;
    }
    let content_type = binary["contentType"].as_str()?.to_owned();
    let data = match binary["data"].as_str() {
        // Whitespace between groups is valid base64Binary, and not data.
        Some(data) => base64::engine::general_purpose::STANDARD
            .decode(data.split_ascii_whitespace().collect::<String>())
            .ok()?,
        None => Vec::new(),
    };
    Some((content_type, data))
}

/// The JSON of a Binary holding `bytes` of `content_type`, with `id` when the request's URL
/// names one: what a create or update sent in the content's own media type writes.
///
/// ```
/// let json = engine::binary_json("text/plain", b"hi", Some("b1"));
/// assert_eq!(json, r#"{"resourceType":"Binary","id":"b1","contentType":"text/plain","data":"aGk="}"#);
/// ```
pub fn binary_json(content_type: &str, bytes: &[u8], id: Option<&str>) -> String {
    let id = id.map_or_else(String::new, |id| {
        format!(r#""id":{},"#, crate::json_string(id))
    });
    let content_type = crate::json_string(content_type);
    let data = base64::engine::general_purpose::STANDARD.encode(bytes);
    if bytes.is_empty() {
        format!(r#"{{"resourceType":"Binary",{id}"contentType":{content_type}}}"#)
    } else {
        format!(r#"{{"resourceType":"Binary",{id}"contentType":{content_type},"data":"{data}"}}"#)
    }
}
