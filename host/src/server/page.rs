//! Pagination of list results: a cursor is the offset of the next page's first item.

use rmcp::ErrorData as McpError;
use rmcp::model::PaginatedRequestParams;

/// One page of `items` starting at `cursor` (an offset written by a previous page).
pub(super) fn page<T: Clone>(
    items: &[T],
    cursor: Option<&str>,
    size: usize,
) -> Result<(Vec<T>, Option<String>), McpError> {
    let start = match cursor {
        None => 0,
        Some(c) => c
            .parse::<usize>()
            .ok()
            .filter(|&s| s <= items.len())
            .ok_or_else(|| McpError::invalid_params(format!("invalid cursor `{c}`"), None))?,
    };
    let end = start.saturating_add(size.max(1)).min(items.len());
    let next = (end < items.len()).then(|| end.to_string());
    Ok((items[start..end].to_vec(), next))
}

/// The cursor a list request carries.
pub(super) fn cursor(request: &Option<PaginatedRequestParams>) -> Option<&str> {
    request.as_ref().and_then(|r| r.cursor.as_deref())
}

#[cfg(test)]
mod tests {
    use super::page;

    #[test]
    fn pages_follow_each_other_until_the_end() {
        let items: Vec<u32> = (0..5).collect();
        assert_eq!(
            page(&items, None, 2).unwrap(),
            (vec![0, 1], Some("2".into()))
        );
        assert_eq!(
            page(&items, Some("2"), 2).unwrap(),
            (vec![2, 3], Some("4".into()))
        );
        assert_eq!(page(&items, Some("4"), 2).unwrap(), (vec![4], None));
        assert_eq!(page(&items, None, 10).unwrap(), (items.clone(), None));
    }

    #[test]
    fn a_bad_cursor_is_an_invalid_params_error() {
        let items = [1, 2];
        let err = page(&items, Some("x"), 2).unwrap_err();
        assert_eq!(err.code, rmcp::model::ErrorCode::INVALID_PARAMS);
        assert!(page(&items, Some("3"), 2).is_err());
    }
}
