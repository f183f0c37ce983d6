//! What the CSV uploads share: reading the header row against a route's
//! column set.

/// The columns a header row names, checked against `columns` (any order,
/// each at most once, `required` all present). Errors are messages.
pub fn header(
    cells: &[&[u8]],
    columns: &'static [&'static str],
    required: &[&str],
) -> Result<Vec<&'static str>, String> {
    let mut header = Vec::with_capacity(cells.len());
    for cell in cells {
        let name = std::str::from_utf8(cell)
            .map_err(|_| "the header is not valid UTF-8".to_owned())?
            .trim()
            .trim_start_matches('\u{feff}');
        let column = columns.iter().find(|c| **c == name).ok_or_else(|| {
            format!(
                "unknown column `{name}`; the columns are {}",
                columns.join(", ")
            )
        })?;
        if header.contains(column) {
            return Err(format!("column `{name}` appears twice"));
        }
        header.push(*column);
    }
    let missing: Vec<&str> = required
        .iter()
        .copied()
        .filter(|c| !header.contains(c))
        .collect();
    if !missing.is_empty() {
        return Err(format!("missing column(s) {}", missing.join(", ")));
    }
    Ok(header)
}

/// The problem with a row whose cell count differs from the header's, as
/// (field, message) with an empty field: it concerns the whole row.
pub fn cell_count_problem(cells: usize, columns: usize) -> Option<(String, String)> {
    (cells != columns).then(|| {
        (
            String::new(),
            format!("{cells} cells where the header names {columns}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::header;

    const COLUMNS: &[&str] = &["ref", "product", "note"];

    #[test]
    fn a_header_names_known_columns_once_and_all_required_ones() {
        assert_eq!(
            header(&[b"\xef\xbb\xbfproduct", b" ref"], COLUMNS, &["ref"]),
            Ok(vec!["product", "ref"])
        );
        assert!(header(&[b"ref", b"colour"], COLUMNS, &[])
            .unwrap_err()
            .contains("colour"));
        assert!(header(&[b"ref", b"ref"], COLUMNS, &[])
            .unwrap_err()
            .contains("twice"));
        assert!(header(&[b"note"], COLUMNS, &["ref", "product"])
            .unwrap_err()
            .contains("ref, product"));
    }
}
