//! Rules every submitted text obeys, whatever field it is in.

/// PostgreSQL cannot store U+0000 in text, so no field may hold it.
pub const NUL_MESSAGE: &str = "must not contain the NUL character (U+0000)";

/// The JSON Pointer of the first string (or object key) in `value` that
/// holds U+0000, if any.
pub fn nul_pointer(value: &serde_json::Value) -> Option<String> {
    fn walk(value: &serde_json::Value, pointer: &mut String) -> bool {
        match value {
            serde_json::Value::String(text) => text.contains('\0'),
            serde_json::Value::Array(items) => items.iter().enumerate().any(|(index, item)| {
                let length = pointer.len();
                pointer.push_str(&format!("/{index}"));
                let found = walk(item, pointer);
                if !found {
                    pointer.truncate(length);
                }
                found
            }),
            serde_json::Value::Object(fields) => fields.iter().any(|(key, item)| {
                let length = pointer.len();
                pointer.push('/');
                pointer.push_str(&key.replace('~', "~0").replace('/', "~1"));
                let found = key.contains('\0') || walk(item, pointer);
                if !found {
                    pointer.truncate(length);
                }
                found
            }),
            _ => false,
        }
    }
    let mut pointer = String::new();
    walk(value, &mut pointer).then(|| {
        if pointer.is_empty() {
            "/".to_owned()
        } else {
            pointer
        }
    })
}

#[cfg(test)]
mod tests {
    use super::nul_pointer;

    #[test]
    fn the_pointer_names_the_first_field_holding_nul() {
        let value = serde_json::json!({"a": "fine", "b": [{"c": "x"}, {"d/e": "nul\u{0}here"}]});
        assert_eq!(nul_pointer(&value).as_deref(), Some("/b/1/d~1e"));
        assert_eq!(
            nul_pointer(&serde_json::json!("\u{0}")).as_deref(),
            Some("/")
        );
        assert_eq!(
            nul_pointer(&serde_json::json!({"ok": ["a", 1, null]})),
            None
        );
    }
}
